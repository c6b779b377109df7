#!/usr/bin/env python3
"""sweep_candidates.py OUTDIR [N]: flag training cases whose labels may contradict CONVENTIONS.md.

Each flag is a guess from the manifest's domain and the customer's words, for a sweeper (SWEEP.md) to
read: most flagged cases are already right. Writes OUTDIR/listK.tsv (K = 1..N, default 4; `lang/file`
and the flags) and OUTDIR/rules.json (what each flag checks)."""
import collections, json, os, re, sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
RULES = {
    "payment_question_only": "payment_method: a question (\"do you take X?\") gives no fact; payment_method only when the customer says how they will pay. When the business itself is the lender, the loan is not a payment method.",
    "supervisor": "Asking for a supervisor/manager is escalation's business, not callback_request, unless they ask to be called (back).",
    "destination": "A travel, delivery or event destination, and a pickup point, stated by the customer, is location; a project name alone is not.",
    "loan_budget": "A loan, mortgage or finance amount the customer states is budget; so is their own offer or down payment.",
    "plan_unit_type": "unit_type is the physical thing's model, size or variant; a service plan, package or cover level is NOT unit_type.",
    "day_after": "\"Day after tomorrow\" (parso, pasado mañana, depois de amanhã) is a named day: that day's business hours, urgency medium.",
    "accepted_offer": "Saying yes to the AI's offer of a brochure, a demo, a visit or a refund does not make that intent; the customer asking in their own words does.",
    "order_id": "Claim, ticket, booking, policy, tracking and account numbers the customer gives are order_id.",
}
AMOUNT = re.compile(r"(\d|lakh|lac|crore|\bcr\b|mil\b|\bk\b|reais|pesos|euros|dollars|rupees|hazaa?r|thousand|million)", re.I)
PAY = re.compile(r"card|upi|cash|\bemi\b|pix|boleto|tarjeta|efectivo|transfer|loan|financ|cheque|paypal|insurance|seguro|conv[eê]nio|parcel|cuota|meses sin|credit|debit|d[eé]bito|cr[eé]dito|gpay|paytm|phonepe|nequi|daviplata|mercado ?pago|mb ?way|multibanco|bizum|netbanking|nach|neft", re.I)
DEST = re.compile(r"\b(to|para|a|pra|até|hasta|from|desde|de|se|tak)\s+[A-Z][a-zà-ú]+|pick ?up|drop|destination|destino|recoger|buscar em|delivery to|entrega en|entrega em")


def customer_text(case):
    return " ".join(t["text"] for t in case["input"]["turns"] if t["from"] == "customer")


def flags(case, domain, tags):
    e = case["expect"]
    dna, intents, objections = set(e.get("do_not_ask", [])), set(e.get("intents", [])), set(e.get("objections", []))
    said = customer_text(case)
    low = said.lower()
    out = []
    if re.search(r"loan|mortgage|financ|bank|credit|lending|nbfc|microfin", domain) and "budget" not in dna and AMOUNT.search(low):
        out.append("loan_budget")
    if "payment_method" in dna:
        sentences = [s for t in case["input"]["turns"] if t["from"] == "customer" for s in re.split(r"(?<=[?.!])\s+", t["text"])]
        asked = [s for s in sentences if "?" in s and PAY.search(s)]
        stated = [s for s in sentences if "?" not in s and PAY.search(s)]
        if asked and not stated:
            out.append("payment_question_only")
    if "unit_type" in dna and re.search(r"telecom|insur|saas|gym|internet|broadband|subscri|fitness|software|isp|mobile_plan|streaming|membership", domain):
        out.append("plan_unit_type")
    if re.search(r"travel|tour|logist|moving|mover|relocat|courier|cab|taxi|airline|event|wedding|transport|shipping|freight|packers", domain) and "location" not in dna and DEST.search(said):
        out.append("destination")
    if "ai_offer_accepted" in tags and intents & {"brochure_request", "demo_request", "site_visit", "refund_request", "callback_request", "appointment_booking"}:
        out.append("accepted_offer")
    if "callback_request" in intents and re.search(r"supervisor|gerente|superior|senior|speak to (a|the|your) manager|manager se baat|encargad|responsável", low):
        out.append("supervisor")
    if re.search(r"\b(claim|ticket|booking|policy|tracking|account|protocolo|reclamo|pedido|sinistro|póliza|apólice|n[uú]mero de)\b", low) and re.search(r"\b[a-z]{0,4}-?\d{5,}", low) and "order_id" not in dna:
        out.append("order_id")
    if re.search(r"\bparso\b|pasado mañana|depois de amanh|day after tomorrow", low):
        out.append("day_after")
    return out


def main():
    outdir, parts = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 4
    manifest = {}
    for lang in "en es hi pt".split():
        for line in open(os.path.join(ROOT, f"manifest-{lang}.tsv")):
            row = line.rstrip("\n").split("\t")
            manifest[(lang, row[0])] = row
    flagged = []
    for lang in "en es hi pt".split():
        folder = os.path.join(ROOT, "train", lang)
        for name in sorted(os.listdir(folder)):
            row = manifest.get((lang, name), [])
            domain, tags = (row[2] if len(row) > 2 else ""), (row[4] if len(row) > 4 else "")
            found = flags(json.load(open(os.path.join(folder, name))), domain, tags)
            if found:
                flagged.append((f"{lang}/{name}", found))
    os.makedirs(outdir, exist_ok=True)
    for k in range(parts):
        with open(os.path.join(outdir, f"list{k + 1}.tsv"), "w") as f:
            for key, found in sorted(flagged)[k::parts]:
                f.write(key + "\t" + ",".join(found) + "\n")
    json.dump(RULES, open(os.path.join(outdir, "rules.json"), "w"), indent=1, ensure_ascii=False)
    print(len(flagged), "flagged:", dict(collections.Counter(f for _, fs in flagged for f in fs)))


if __name__ == "__main__":
    main()
