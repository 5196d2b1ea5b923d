import type { Command } from 'commander';
import type { CliContext } from '../main.js';

/** Registers the `cluster` command(s). */
export function registerCluster(_program: Command, _ctx: CliContext): void {}
