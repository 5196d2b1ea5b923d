/**
 * `podnet completion bash|zsh`: a completion script generated from the command tree itself, so every command
 * and flag podnet has completes, and nothing it does not. zsh loads the bash function through bashcompinit.
 */
import type { Command } from 'commander';
import { PodnetError } from '../../errors/index.js';
import type { CliContext } from '../main.js';
import { OUTPUT_FORMATS, examples } from '../output.js';

/** Every visible command path (`"ipam show"`) with the words that may follow it: subcommands and flags. */
export function completionTable(program: Command): [string, string[]][] {
  const rows: [string, string[]][] = [];
  const walk = (cmd: Command, path: string[]) => {
    const subs = cmd.commands.filter((c) => !(c as unknown as { _hidden?: boolean })._hidden);
    const flags = cmd.options.flatMap((o) => [o.short, o.long].filter((f): f is string => !!f));
    rows.push([path.join(' '), [...subs.map((c) => c.name()), ...flags, '--help']]);
    for (const s of subs) walk(s, [...path, s.name()]);
  };
  walk(program, []);
  return rows;
}

export function bashCompletion(program: Command): string {
  const cases = completionTable(program)
    .map(([path, words]) => `    "${path}") words="${words.join(' ')}" ;;`)
    .join('\n');
  return `# podnet completion for bash: source <(podnet completion bash)
_podnet() {
  local cur prev path="" words i w
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  if [[ "$prev" == "-o" || "$prev" == "--output" ]]; then
    COMPREPLY=($(compgen -W "${OUTPUT_FORMATS.join(' ')} html svg" -- "$cur"))
    return 0
  fi
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    [[ "$w" == -* ]] && continue
    case "\${path:+$path }$w" in
${completionTable(program)
  .filter(([p]) => p !== '')
  .map(([p]) => `      "${p}") path="${p}" ;;`)
  .join('\n')}
    esac
  done
  case "$path" in
${cases}
    *) words="" ;;
  esac
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -F _podnet podnet
`;
}

export function zshCompletion(program: Command): string {
  return `#compdef podnet
# podnet completion for zsh: source <(podnet completion zsh)
autoload -U +X bashcompinit && bashcompinit
${bashCompletion(program).split('\n').slice(1).join('\n')}`;
}

export function registerCompletion(program: Command, ctx: CliContext): void {
  program
    .command('completion')
    .description('print a shell completion script: bash or zsh')
    .argument('<shell>', 'bash or zsh')
    .addHelpText(
      'after',
      examples(
        'source <(podnet completion bash)',
        'podnet completion bash > /etc/bash_completion.d/podnet',
        'source <(podnet completion zsh)',
      ),
    )
    .action((shell: string) => {
      if (shell !== 'bash' && shell !== 'zsh') {
        throw new PodnetError('UsageError', `no completion for shell "${shell}"`, {
          field: 'shell',
          hint: 'podnet completion bash, or podnet completion zsh',
        });
      }
      ctx.io.out(shell === 'bash' ? bashCompletion(program) : zshCompletion(program));
    });
}
