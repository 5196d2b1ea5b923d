import type { Command } from 'commander';
import type { CliContext } from '../main.js';

/** Registers the `ipam` command(s). */
export function registerIpam(_program: Command, _ctx: CliContext): void {}
