import type { Command } from 'commander';
import type { CliContext } from '../main.js';

/** Registers `install-cni`. */
export function registerCni(_program: Command, _ctx: CliContext): void {}
