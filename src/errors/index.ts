export {
  AREAS,
  type Area,
  CATALOGUE,
  type CatalogueEntry,
  EXIT,
  type ErrorCode,
  type ExitClass,
} from './catalogue.js';
export { PodnetError, asPodnetError } from './podnet-error.js';
