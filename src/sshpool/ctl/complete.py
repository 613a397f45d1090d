"""Shell completion scripts for sshpoolctl (``sshpoolctl --print-completion bash|zsh``).

Aliases come from the daemon at completion time (``sshpoolctl --complete-aliases``; with the tags
in use as ``@tag``, ``--complete-selectors``, for the verbs that take a selector), so they are never
stale; a daemon that is down completes nothing instead of printing an error mid-line.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

__all__ = ["MENU", "SHELLS", "completion_script"]

#: zsh's menu text for the subcommands, in the order both scripts offer them: shorter than ``-h``'s
#: help, and free of the quote that ends zsh's ``'name:text'``. Which subcommands exist is the
#: parser's to say; one missing here is offered after these, with its ``-h`` help.
MENU = {
    "run": "run a command on a channel (or a glob or @tag of channels)",
    "status": "show the channels",
    "start": "add a channel from a DSN",
    "stop": "stop a channel",
    "tag": "show or set a channel tags",
    "update": "change a channel DSN",
    "hostkey": "show or accept a channel host key",
    "put": "copy a local file to a channel host",
    "get": "copy a file from a channel host",
    "doctor": "show how the daemon and its token are found",
}

_BASH = r"""# bash completion for sshpoolctl: eval "$(sshpoolctl --print-completion bash)"
_sshpoolctl() {
    local cur prev words cword
    cur="${COMP_WORDS[COMP_CWORD]}"
    prev="${COMP_WORDS[COMP_CWORD-1]}"
    local i sub="" nargs=0
    for ((i = 1; i < COMP_CWORD; i++)); do
        case "${COMP_WORDS[i]}" in
            --host|--port|--timeout|--wait|--interval|--count) ((i++)) ;;
            --mode|--parallel|--halt|--tags|--print-completion) ((i++)) ;;
            -*) ;;
            *) if [[ -z "$sub" ]]; then sub="${COMP_WORDS[i]}"; else ((nargs++)); fi ;;
        esac
    done
    case "$prev" in
        --print-completion) COMPREPLY=($(compgen -W "bash zsh" -- "$cur")); return ;;
        --mode) COMPREPLY=($(compgen -W "exec shell" -- "$cur")); return ;;
        --halt) COMPREPLY=($(compgen -W "first_failure" -- "$cur")); return ;;
        --host|--port|--timeout|--wait|--interval|--count|--parallel|--tags) return ;;
    esac
    if [[ -z "$sub" ]]; then
        COMPREPLY=($(compgen -W "@SUBCOMMANDS@ @OPTIONS@" -- "$cur"))
        return
    fi
    case "$sub" in
        run|status)
            if [[ "$cur" == -* ]]; then
                local opts="--json --timeout --wait --watch --interval --count --check --stdin -n --mode"
                opts+=" --parallel --halt --group"
                COMPREPLY=($(compgen -W "$opts" -- "$cur"))
            elif ((nargs == 0)); then
                COMPREPLY=($(compgen -W "$(sshpoolctl --complete-selectors 2>/dev/null)" -- "$cur"))
            fi ;;
        stop|update|tag)
            if [[ "$cur" == -* ]]; then
                COMPREPLY=($(compgen -W "--json" -- "$cur"))
            elif ((nargs == 0)); then
                COMPREPLY=($(compgen -W "$(sshpoolctl --complete-aliases 2>/dev/null)" -- "$cur"))
            fi ;;
        hostkey)
            if ((nargs == 0)); then
                COMPREPLY=($(compgen -W "show accept" -- "$cur"))
            elif ((nargs == 1)); then
                COMPREPLY=($(compgen -W "$(sshpoolctl --complete-aliases 2>/dev/null)" -- "$cur"))
            fi ;;
        put|get)
            if ((nargs == 0)); then
                COMPREPLY=($(compgen -W "$(sshpoolctl --complete-aliases 2>/dev/null)" -- "$cur"))
            elif [[ "$sub" == put && nargs -eq 1 ]] || [[ "$sub" == get && nargs -eq 2 ]]; then
                COMPREPLY=($(compgen -f -- "$cur"))
            fi ;;
        start) COMPREPLY=($(compgen -W "--json --wait --tags" -- "$cur")) ;;
    esac
}
complete -F _sshpoolctl sshpoolctl
"""

_ZSH = r"""#compdef sshpoolctl
# zsh completion for sshpoolctl: sshpoolctl --print-completion zsh > "${fpath[1]}/_sshpoolctl"
_sshpoolctl() {
    local -a subcommands aliases selectors
    subcommands=(
@MENU@
    )
    local sub="" nargs=0 i
    for ((i = 2; i < CURRENT; i++)); do
        case "${words[i]}" in
            --host|--port|--timeout|--wait|--interval|--count) ((i++)) ;;
            --mode|--parallel|--halt|--tags|--print-completion) ((i++)) ;;
            -*) ;;
            *) if [[ -z "$sub" ]]; then sub="${words[i]}"; else ((nargs++)); fi ;;
        esac
    done
    if [[ -z "$sub" ]]; then
        if [[ "${words[CURRENT]}" == -* ]]; then
            compadd -- @OPTIONS@
        else
            _describe 'command' subcommands
        fi
        return
    fi
    case "$sub" in
        run|status)
            selectors=(${(f)"$(sshpoolctl --complete-selectors 2>/dev/null)"})
            ((nargs == 0)) && compadd -- $selectors
            return ;;
    esac
    aliases=(${(f)"$(sshpoolctl --complete-aliases 2>/dev/null)"})
    case "$sub" in
        stop|update|tag) ((nargs == 0)) && compadd -- $aliases ;;
        put|get)
            if ((nargs == 0)); then compadd -- $aliases
            else _files
            fi ;;
        hostkey)
            if ((nargs == 0)); then compadd show accept
            elif ((nargs == 1)); then compadd -- $aliases
            fi ;;
    esac
}
if [[ "$funcstack[1]" == "_sshpoolctl" ]]; then
    _sshpoolctl "$@"
else
    compdef _sshpoolctl sshpoolctl
fi
"""

SHELLS = {"bash": _BASH, "zsh": _ZSH}


def _offered(subcommands: Mapping[str, str]) -> dict[str, str]:
    """The parser's subcommands (name: ``-h`` help) as the scripts offer them: in :data:`MENU`'s
    order with its text, then any other, its help without quotes."""
    known = {name: text for name, text in MENU.items() if name in subcommands}
    others = {name: " ".join(text.replace("'", "").split()) for name, text in subcommands.items() if name not in MENU}
    return known | others


def completion_script(shell: str, subcommands: Mapping[str, str], options: Sequence[str]) -> str:
    """The script for ``shell`` (bash or zsh), completing the parser's ``subcommands`` (name:
    ``-h`` help) and top-level ``options``."""
    menu = _offered(subcommands)
    return (
        SHELLS[shell]
        .replace("@SUBCOMMANDS@", " ".join(menu))
        .replace("@MENU@", "\n".join(f"        '{name}:{text}'" for name, text in menu.items()))
        .replace("@OPTIONS@", " ".join(options))
    )
