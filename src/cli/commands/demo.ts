import type { Command } from 'commander';
import type { CliContext } from '../main.js';

/** Registers the `demo` command(s). */
export function registerDemo(_program: Command, _ctx: CliContext): void {}
