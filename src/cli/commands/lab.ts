import type { Command } from 'commander';
import type { CliContext } from '../main.js';

/** Registers the `lab` command(s). */
export function registerLab(_program: Command, _ctx: CliContext): void {}
