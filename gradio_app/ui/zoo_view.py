"""Zoo domain objects -> what the zoo tab's components display. Pure functions, no decisions."""

from __future__ import annotations

from gradio_app.personalities.facts import PersonalityFacts
from gradio_app.personalities.zoo import ZooEntry


def card_markdown(f: PersonalityFacts, active: bool = False) -> str:
    if not f.ok:
        return (
            f"### ⚠️ {f.name}\n*{f.id}*\n\nThis personality cannot be used: it failed to load.\n\n"
            f"```\n{f.error}\n```\nFix the file (or remove the folder) and press **Rescan**."
        )
    source = "built in" if f.builtin else "your zoo"
    lines = [f"### {f.name}", f"*{f.id}* · version {f.version} · by {f.author or 'unknown'} · {source}"]
    if active:
        lines.append("\n✅ **You are talking with this personality.**")
    lines += ["", f.description or "_No description._"]
    if f.disclaimer:
        lines.append(f"\n> ⚠️ **Disclaimer:** {f.disclaimer}")
    lines.append("")
    if f.custom_workflow:
        lines.append("- 🧩 **Has a custom workflow**: its processor script replaces the plain chat.")
    else:
        lines.append("- 💬 Plain chat: no custom workflow.")
    if not f.runs_code:
        lines.append("- 🔒 Runs no code on this machine.")
    elif f.trusted:
        why = "built in" if f.builtin else "you trusted it"
        lines.append(f"- ⚙️ **Runs code on this machine** ({', '.join(f.code)}): trusted ({why}).")
    else:
        lines.append(
            f"- ⛔ **Runs code on this machine** ({', '.join(f.code)}) and is **not trusted**: it came from "
            "elsewhere, so its scripts never run and nothing is installed until you press **Trust**. "
            "Read its files first: trusting it lets them do anything your user account can."
        )
    if f.install == "needed":
        lines.append("- 📦 Needs an install: it runs when you apply this personality (log below).")
    elif f.install == "installed":
        lines.append(f"- 📦 Installed{f' on {f.installed_at}' if f.installed_at else ''}.")
    if f.imported_from:
        lines.append(f"- 📥 Imported from {f.imported_from} (the original is kept; export gives it back).")
    return "\n".join(lines)


def entry_label(entry: ZooEntry, with_place: bool = False) -> str:
    label = entry.name if entry.ok else f"⚠️ {entry.name} (broken)"
    return f"{label} · {entry.language}/{entry.category}" if with_place else label


def choices(entries: list[ZooEntry], with_place: bool = False) -> list[tuple[str, str]]:
    return [(entry_label(e, with_place), e.id) for e in entries]


def broken_markdown(entries: list[ZooEntry]) -> str:
    if not entries:
        return "_Every personality loads._"
    return "\n".join(f"- **{e.id}**: `{e.error}`" for e in entries)


def search_summary(query: str, count: int) -> str:
    if not query.strip():
        return ""
    if count == 0:
        return f"No personality matches “{query.strip()}”."
    return f"{count} personalit{'y' if count == 1 else 'ies'} match “{query.strip()}”: pick one in the list."
