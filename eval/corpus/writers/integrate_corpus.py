#!/usr/bin/env python3
"""Validate a writer's batch and (with --apply) copy it into the corpus.
usage: integrate_corpus.py /work/corpus/wNN [--dest train|fresh|next] [--reask] [--apply] [--no-dup]"""
import json, os, re, sys, shutil, glob
from datetime import datetime

ROOT = "/work/main/eval/corpus"
INTENTS = set("pricing negotiation site_visit payment_plan demo callback_request reschedule cancel complaint support_issue brochure_request availability purchase_ready refund appointment_booking admission_inquiry not_interested".split())
OBJ = set("price timing authority trust competitor financing location features".split())
FACTS = set("budget location timeline unit_type decision_maker payment_method issue_details tried_self_service preferred_time course patient_details order_id company_size".split())
URG = {"high", "medium", "low"}
DISP = {"callback", "escalation", "nurture", "closed_lost", "booked"}

args = sys.argv[1:]
batch = args[0]
dest = "train"
if "--dest" in args:
    dest = args[args.index("--dest") + 1]
reask = "--reask" in args
apply = "--apply" in args

def ts(s):
    return datetime.fromisoformat(s.replace("Z", "+00:00"))

def words(case):
    t = " ".join(x.get("text", "") for x in case["input"]["turns"]).lower()
    w = re.findall(r"\w+", t)
    return {tuple(w[i:i + 3]) for i in range(len(w) - 2)}

errors = []
cases = {}
for path in sorted(glob.glob(os.path.join(batch, "*", "*.json"))):
    lang = os.path.basename(os.path.dirname(path))
    if lang not in ("en", "es", "hi", "pt"):
        continue
    name = os.path.basename(path)
    try:
        c = json.load(open(path))
    except Exception as e:
        errors.append(f"{path}: {e}"); continue
    if set(c) != {"input", "expect"}:
        errors.append(f"{path}: top keys {set(c)}")
        continue
    inp, exp = c["input"], c["expect"]
    try:
        now = ts(inp["now"])
        prev = None
        for t in inp["turns"]:
            a = ts(t["at"])
            if t["from"] not in ("customer", "ai", "agent"):
                errors.append(f"{path}: from {t['from']}")
            if prev and a < prev:
                errors.append(f"{path}: turns out of order at {t['at']}")
            prev = a
        if not reask and prev and prev > now:
            errors.append(f"{path}: last turn after now")
        if reask:
            if inp.get("handoff_at") != inp["now"]:
                errors.append(f"{path}: handoff_at != now")
    except Exception as e:
        errors.append(f"{path}: time {e}")
    if reask:
        if set(exp) != {"do_not_ask", "reasked"}:
            errors.append(f"{path}: reask expect keys {set(exp)}")
        else:
            if not set(exp["do_not_ask"]) <= FACTS or not set(exp["reasked"]) <= set(exp["do_not_ask"]):
                errors.append(f"{path}: reask labels")
    else:
        want = {"intents", "urgency", "disposition", "objections", "do_not_ask", "requested_window"}
        if set(exp) != want:
            errors.append(f"{path}: expect keys {set(exp) ^ want}")
            continue
        if not set(exp["intents"]) <= INTENTS: errors.append(f"{path}: intents {exp['intents']}")
        if not set(exp["objections"]) <= OBJ: errors.append(f"{path}: objections {exp['objections']}")
        if not set(exp["do_not_ask"]) <= FACTS: errors.append(f"{path}: facts {exp['do_not_ask']}")
        if exp["urgency"] not in URG: errors.append(f"{path}: urgency {exp['urgency']}")
        if exp["disposition"] not in DISP: errors.append(f"{path}: disposition {exp['disposition']}")
        w = exp["requested_window"]
        if (w is not None) != ("preferred_time" in exp["do_not_ask"]):
            errors.append(f"{path}: preferred_time <=> window")
        if w is not None:
            try:
                if ts(w["not_before"]) > ts(w["not_after"]):
                    errors.append(f"{path}: window reversed")
            except Exception as e:
                errors.append(f"{path}: window {e}")
    cases[(lang, name)] = c

# name clashes and near-duplicates against the whole corpus
existing = {}
for p in glob.glob(os.path.join(ROOT, "**", "*.json"), recursive=True):
    existing.setdefault(os.path.basename(p), p)
num_re = re.compile(r"^([a-z]{1,2}-)?(\d+)")
for (lang, name) in cases:
    if name in existing:
        errors.append(f"{lang}/{name}: name exists at {existing[name]}")
    m = num_re.match(name)
    if m:
        key = (m.group(1) or "") + m.group(2)
        for e in existing:
            m2 = num_re.match(e)
            if m2 and (m2.group(1) or "") + m2.group(2) == key and e != name:
                errors.append(f"{lang}/{name}: number clash with {existing[e]}")
                break

if "--no-dup" not in args:
    corpus_sets = []
    for p in glob.glob(os.path.join(ROOT, "**", "*.json"), recursive=True):
        try:
            corpus_sets.append((p, words(json.load(open(p)))))
        except Exception:
            pass
    batch_sets = [((l, n), words(c)) for (l, n), c in cases.items()]
    worst = 0.0
    for i, (k, s) in enumerate(batch_sets):
        others = corpus_sets + [(str(k2), s2) for j, (k2, s2) in enumerate(batch_sets) if j != i]
        for p, s2 in others:
            if not s or not s2:
                continue
            j = len(s & s2) / len(s | s2)
            worst = max(worst, j)
            if j > 0.5:
                errors.append(f"{k}: near-duplicate of {p} (Jaccard {j:.2f})")
    print(f"max trigram Jaccard {worst:.2f}")

print(f"{len(cases)} cases; {len(errors)} problems")
for e in errors:
    print("  ", e)
if errors or not apply:
    sys.exit(1 if errors else 0)

manifest = {}
mpath = os.path.join(batch, "manifest.tsv")
if os.path.exists(mpath):
    for line in open(mpath):
        parts = line.rstrip("\n").split("\t")
        if len(parts) >= 2 and "/" in parts[0]:
            manifest[tuple(parts[0].split("/", 1))] = parts[1:]
for (lang, name), c in sorted(cases.items()):
    if reask and dest == "next":
        d = os.path.join(ROOT, "reask", "next", lang); mf = os.path.join(ROOT, "reask", "manifest-next.tsv")
    elif reask:
        d = os.path.join(ROOT, "reask", "train", lang); mf = os.path.join(ROOT, "reask", "manifest.tsv")
    elif dest == "next":
        d = os.path.join(ROOT, "next", lang); mf = os.path.join(ROOT, "manifest-next.tsv")
    elif dest == "fresh":
        d = os.path.join(ROOT, "fresh", lang); mf = os.path.join(ROOT, "manifest-fresh.tsv")
    else:
        d = os.path.join(ROOT, "train", lang); mf = os.path.join(ROOT, f"manifest-{lang}.tsv")
    os.makedirs(d, exist_ok=True)
    shutil.copy(os.path.join(batch, lang, name), os.path.join(d, name))
    row = manifest.get((lang, name), [lang, "", "", ""])
    with open(mf, "a") as f:
        f.write("\t".join([name] + row) + "\n")
print("applied", len(cases))
