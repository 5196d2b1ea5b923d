export { PodnetError, asPodnetError } from './podnet-error.js';
