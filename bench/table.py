"""Print bench/results.json as a Markdown table (for bench/RESULTS.md).

    .venv/bin/python bench/table.py [bench/results.json]
"""

import json
import sys
from pathlib import Path


def main() -> None:
    path = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).with_name("results.json"))
    data = json.loads(path.read_text())
    targets = data.get("_targets", {})
    print("| figure | value | target |")
    print("|---|---:|---|")
    for name, value in data.items():
        if name.startswith("_"):
            continue
        target = targets.get(name)
        mark = f"{target['target']} — {'met' if target['met'] else '**missed**'}" if target else ""
        print(f"| `{name}` | {value:,} | {mark} |" if isinstance(value, (int, float)) else f"| `{name}` | {value} | {mark} |")
    for key in sorted(k for k in data if k.startswith("_meta")):
        print()
        print(f"{key}: " + ", ".join(f"{k}: {v}" for k, v in data[key].items()))


if __name__ == "__main__":
    main()
