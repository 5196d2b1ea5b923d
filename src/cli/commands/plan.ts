import type { Command } from 'commander';
import type { CliContext } from '../main.js';

/** Registers the `plan` command(s). */
export function registerPlan(_program: Command, _ctx: CliContext): void {}
