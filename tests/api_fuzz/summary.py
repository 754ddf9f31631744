"""Summarises a Schemathesis 4.x NDJSON report for tests/api_fuzz/run.sh.

Prints the operations tested, the requests sent (by phase and by status class), and every
distinct failure with a curl command that reproduces it; also scans the server's log for
panics. Exits 1 if a check failed or errored, the server panicked, or the server died.
"""

from __future__ import annotations

import argparse
import base64
import collections
import glob
import json
import os
import shlex
import sys


def curl_of(request: dict) -> str:
    """A curl command for a recorded request (the bearer token as $TOKEN)."""
    parts = ["curl", "-sS", "-i", "-X", request.get("method", "GET")]
    for name, values in (request.get("headers") or {}).items():
        if name.lower() in ("content-length", "user-agent", "accept-encoding", "connection", "accept", "x-schemathesis-testcaseid"):
            continue
        for value in values:
            if name.lower() == "authorization":
                parts += ["-H", "Authorization: Bearer $TOKEN"]
                continue
            parts += ["-H", shlex.quote(f"{name}: {value}")]
    body = request.get("body")
    if isinstance(body, dict) and "$base64" in body:
        raw = base64.b64decode(body["$base64"])
        try:
            text = raw.decode("utf-8")
            parts += ["--data-binary", shlex.quote(text)]
        except UnicodeDecodeError:
            parts = ["printf", shlex.quote("".join(f"\\x{b:02x}" for b in raw)), "|"] + parts + ["--data-binary", "@-"]
    parts.append(shlex.quote(request.get("uri", "")))
    # Keep the Authorization placeholder expandable.
    return " ".join(p if "$TOKEN" not in p else f'"{p}"' for p in parts)


def op_label(rec: dict, cases: dict, case_id: str) -> str:
    """The spec operation a request belongs to (stateful steps name theirs per case)."""
    label = rec.get("label") or "?"
    if label.startswith("Stateful"):
        case = (cases.get(case_id) or {}).get("value") or {}
        label = f"{case.get('method', '?')} {case.get('path', '?')}"
    return label


def body_text(response: dict, limit: int = 400) -> str:
    content = response.get("content")
    if isinstance(content, dict) and "$base64" in content:
        raw = base64.b64decode(content["$base64"])
        text = raw.decode("utf-8", "replace")
    else:
        text = str(content or "")
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} chars)"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reports", required=True)
    ap.add_argument("--server-log", required=True)
    ap.add_argument("--base", required=True)
    ap.add_argument("--seconds", type=int, default=0)
    ap.add_argument("--seed", default="")
    ap.add_argument("--server-alive", type=int, default=1)
    args = ap.parse_args()

    files = sorted(glob.glob(os.path.join(args.reports, "ndjson-*.ndjson")))
    if not files:
        print("summary: no NDJSON report found: Schemathesis did not run", file=sys.stderr)
        return 1

    operations: set[str] = set()
    selected = 0
    requests_by_phase: collections.Counter[str] = collections.Counter()
    status_classes: collections.Counter[str] = collections.Counter()
    statuses_by_op: dict[str, collections.Counter[int]] = collections.defaultdict(collections.Counter)
    failures: dict[tuple, dict] = {}
    errors: list[str] = []
    checks_run = 0

    for path in files:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                event = json.loads(line)
                kind, data = next(iter(event.items()))
                if kind == "LoadingFinished":
                    selected = data.get("statistic", {}).get("operations", {}).get("selected", 0)
                elif kind == "NonFatalError" or kind == "FatalError":
                    errors.append(json.dumps(data)[:600])
                elif kind == "ScenarioFinished":
                    phase = data.get("phase", "?")
                    rec = data.get("recorder") or {}
                    cases = rec.get("cases") or {}
                    for case_id, inter in (rec.get("interactions") or {}).items():
                        label = op_label(rec, cases, case_id)
                        operations.add(label)
                        requests_by_phase[phase] += 1
                        response = inter.get("response") or {}
                        code = response.get("status_code")
                        if code is None:
                            status_classes["no response"] += 1
                        else:
                            status_classes[f"{code // 100}xx"] += 1
                            statuses_by_op[label][code] += 1
                    for case_id, checks in (rec.get("checks") or {}).items():
                        for check in checks:
                            checks_run += 1
                            if check.get("status") == "success":
                                continue
                            label = op_label(rec, cases, case_id)
                            inter = (rec.get("interactions") or {}).get(case_id) or {}
                            response = inter.get("response") or {}
                            info = check.get("failure_info") or {}
                            failure = info.get("failure") or {}
                            title = failure.get("title") or check.get("status")
                            message = (failure.get("message") or "").strip()
                            code = response.get("status_code")
                            key = (check.get("name"), label, code, title, message.splitlines()[0] if message else "")
                            if key in failures:
                                failures[key]["count"] += 1
                                continue
                            failures[key] = {
                                "count": 1,
                                "check": check.get("name"),
                                "status": check.get("status"),
                                "operation": label,
                                "phase": phase,
                                "title": title,
                                "message": message,
                                "code": code,
                                "body": body_text(response),
                                "content_type": ", ".join((response.get("headers") or {}).get("content-type", [])),
                                "curl": curl_of(inter.get("request") or {}) if inter else info.get("code_sample", ""),
                            }

    panics: list[str] = []
    try:
        with open(args.server_log, encoding="utf-8", errors="replace") as fh:
            log = fh.read().splitlines()
        for i, line in enumerate(log):
            if "panicked at" in line:
                panics.append("\n".join(log[i : i + 4]))
    except OSError:
        pass

    total = sum(requests_by_phase.values())
    print()
    print("=" * 30 + " api_fuzz summary " + "=" * 30)
    print(f"server: {args.base}; seed {args.seed}; {args.seconds} s")
    print(f"operations tested: {len(operations - {'? ?', '?'})} of {selected} in /openapi.json")
    print(f"requests sent: {total} ({', '.join(f'{k} {v}' for k, v in sorted(requests_by_phase.items()))})")
    print(f"responses: {', '.join(f'{k} {v}' for k, v in sorted(status_classes.items()))}; checks evaluated: {checks_run}")
    never_2xx = sorted(op for op, c in statuses_by_op.items() if not any(200 <= s < 300 for s in c))
    if never_2xx:
        print(f"operations that never answered 2xx ({len(never_2xx)}): {', '.join(never_2xx)}")
    for e in errors:
        print(f"schemathesis error: {e}")
    print(f"failures: {len(failures)} distinct" + (f" ({sum(f['count'] for f in failures.values())} in all)" if failures else ""))
    for n, f in enumerate(failures.values(), 1):
        print(f"\n[{n}] {f['check']} ({f['status']}): {f['operation']} -> {f['code']} [{f['title']}], {f['count']}x, phase {f['phase']}")
        if f["message"]:
            print("    " + f["message"].replace("\n", "\n    ")[:1200])
        print(f"    response ({f['content_type'] or 'no content-type'}): {f['body']}")
        print(f"    reproduce: {f['curl']}")
    if panics:
        print(f"\nserver panics: {len(panics)}")
        for p in panics[:10]:
            print("    " + p.replace("\n", "\n    "))
    if not args.server_alive:
        print("\nthe server DIED during the run (see its log)")
    failed = bool(failures) or bool(panics) or not args.server_alive or bool(errors)
    print(f"\n{'FAILED' if failed else 'PASSED'}: {len(failures)} failure(s), {len(panics)} panic(s), server {'alive' if args.server_alive else 'dead'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
