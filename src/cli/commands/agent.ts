import type { Command } from 'commander';
import type { CliContext } from '../main.js';

/** Registers the `agent` command(s). */
export function registerAgent(_program: Command, _ctx: CliContext): void {}
