//! Briefs per second on one core for 10-turn conversations (five customer, five AI turns in
//! four languages), rules and the shipped model. Run: `cargo bench --bench interpret`; prints briefs/s.
//!
//! The same conversation over and over keeps the regex engines' lazy DFA states warm, which real
//! traffic does not: a second figure makes one brief of each of 2,000 training cases (every k-th
//! of `eval/corpus/train`, every one a different conversation), a first pass and a second.
//!
//! With `HANDOFFD_BENCH_BRIEFS=N` it makes exactly N briefs after one warm-up brief and prints
//! nothing timed: the run to give `valgrind --tool=callgrind`, whose instruction counts are
//! repeatable on a busy machine (per brief: the difference of two runs over the difference of N).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use handoffd::interpret::{InterpretConfig, Interpreter};
use handoffd_contract::conversation::Conversation;

const TURNS: &[(&str, &str)] = &[
    ("ai", "Hi Rahul, thanks for your interest in Skyline Residences! Which configuration are you looking for?"),
    ("customer", "Hi. I'm looking for a 3BHK, my budget is around 1.2 crore. What is the all-inclusive price?"),
    ("ai", "The 3BHK is ₹1.28 Cr all-inclusive under our launch offer, on the construction-linked plan."),
    ("customer", "That is a bit above my budget. Is the price negotiable? Can I do a site visit on Saturday morning?"),
    ("ai", "Final pricing is handled by our sales manager. Site visits run on Saturdays from 10 AM."),
    ("customer", "Mujhe husband se poochna padega, final decision unka hi hoga. EMI pe lena hai."),
    ("ai", "Bilkul. Hamari team aapko call karegi. Kya aap floor plans chahenge?"),
    ("customer", "Sí, por favor, mándeme los planos. No estoy ocupado ahora, pero llámenme mañana por la tarde."),
    ("ai", "Claro. Un asesor le llamará mañana por la tarde."),
    ("customer", "Ok, obrigado. Não precisa mandar mais nada por enquanto."),
];

fn conversation() -> Conversation {
    let turns: Vec<serde_json::Value> = TURNS
        .iter()
        .enumerate()
        .map(|(i, (from, text))| serde_json::json!({"at": format!("2026-06-09T18:{:02}:00+05:30", i), "from": from, "text": text}))
        .collect();
    serde_json::from_value(serde_json::json!({
        "now": "2026-06-09T18:25:00+05:30",
        "timezone": "Asia/Kolkata",
        "business_hours": {"mon": "09:30-19:30", "tue": "09:30-19:30", "sat": "10:00-18:00"},
        "customer": {"name": "Rahul Mehta", "phones": ["+91 98200 12345"]},
        "channel": "whatsapp",
        "turns": turns,
    }))
    .expect("the bench conversation is valid")
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let config = InterpretConfig {
        vocabulary: Some("config/vocabulary".into()),
        model: Some("config/model/brief-model.json".into()),
        ..Default::default()
    };
    let interpreter = Interpreter::load(&config, &root).expect("the shipped vocabulary loads");
    assert!(interpreter.model_problem().is_none(), "{:?}", interpreter.model_problem());
    println!("interpret: {}", interpreter.describe_layers());
    let conversation = conversation();
    if let Some(briefs) = fixed_count() {
        std::hint::black_box(interpreter.interpret(&conversation).unwrap());
        for _ in 0..briefs {
            std::hint::black_box(interpreter.interpret(std::hint::black_box(&conversation)).unwrap());
        }
        println!("interpret: {briefs} briefs after one warm-up brief");
        return;
    }
    // Warm up the regex caches.
    for _ in 0..200 {
        std::hint::black_box(interpreter.interpret(&conversation).unwrap());
    }
    let (mut best_wall, mut best_cpu) = (0.0f64, 0.0f64);
    for _ in 0..3 {
        let started = Instant::now();
        let cpu_started = thread_cpu_ns();
        let mut briefs = 0u64;
        while started.elapsed() < Duration::from_secs(2) {
            for _ in 0..100 {
                std::hint::black_box(interpreter.interpret(std::hint::black_box(&conversation)).unwrap());
            }
            briefs += 100;
        }
        best_wall = best_wall.max(briefs as f64 / started.elapsed().as_secs_f64());
        if let (Some(from), Some(to)) = (cpu_started, thread_cpu_ns()) {
            best_cpu = best_cpu.max(briefs as f64 / ((to - from) as f64 / 1e9));
        }
    }
    // The customer's language is part of every brief above; its own cost, apart, shows it stays a small share.
    let (started, cpu_started, mut detections) = (Instant::now(), thread_cpu_ns(), 0u64);
    while started.elapsed() < Duration::from_secs(1) {
        for _ in 0..1000 {
            std::hint::black_box(handoffd::interpret::language::detect(std::hint::black_box(&conversation.turns)));
        }
        detections += 1000;
    }
    if let (Some(from), Some(to)) = (cpu_started, thread_cpu_ns()) {
        let per_detection = (to - from) as f64 / detections as f64;
        let per_brief = 1e9 / best_cpu;
        println!(
            "language detection: {per_detection:.0} ns per conversation per CPU, {:.2}% of a brief's {per_brief:.0} ns",
            100.0 * per_detection / per_brief
        );
    }
    distinct_conversations(&interpreter, &root);
    let brief = interpreter.interpret(&conversation).unwrap();
    println!(
        "interpret: {best_wall:.0} briefs/s wall clock, {best_cpu:.0} briefs/s per CPU-second of this thread \
         (10-turn conversation; {} intents, {} facts)",
        brief.intents.len(),
        brief.do_not_ask.len()
    );
}

/// Cases read for [`distinct_conversations`].
const DISTINCT: usize = 2000;

/// Briefs per CPU-second over distinct conversations: the first pass meets each text new, as the
/// daemon does; the second meets them again.
fn distinct_conversations(interpreter: &Interpreter, root: &std::path::Path) {
    use handoffd::interpret::score;
    let mut conversations = Vec::new();
    for (_, dir) in score::slices(&root.join("eval/corpus/train")).expect("the training corpus is readable") {
        for path in score::case_paths(&dir).expect("the training corpus is readable") {
            conversations.push(score::load_case(&path).expect("a training case loads").input);
        }
    }
    // Every language in proportion: every k-th case of the slices in turn.
    let stride = (conversations.len() / DISTINCT).max(1);
    let conversations: Vec<_> = conversations.into_iter().step_by(stride).take(DISTINCT).collect();
    let turns: usize = conversations.iter().map(|c| c.turns.len()).sum();
    for pass in ["first", "second"] {
        let cpu_started = thread_cpu_ns();
        for conversation in &conversations {
            std::hint::black_box(interpreter.interpret(std::hint::black_box(conversation)).unwrap());
        }
        if let (Some(from), Some(to)) = (cpu_started, thread_cpu_ns()) {
            println!(
                "interpret, {} distinct conversations ({:.1} turns on average), {pass} pass: {:.0} briefs/s per \
                 CPU-second of this thread",
                conversations.len(),
                turns as f64 / conversations.len() as f64,
                conversations.len() as f64 / ((to - from) as f64 / 1e9)
            );
        }
    }
}

/// `HANDOFFD_BENCH_BRIEFS`: a fixed number of briefs to make, for an instruction-count profile.
fn fixed_count() -> Option<u64> {
    let value = std::env::var("HANDOFFD_BENCH_BRIEFS").ok()?;
    Some(value.parse().unwrap_or_else(|_| panic!("HANDOFFD_BENCH_BRIEFS={value:?} is not a count")))
}

/// Time this thread spent on a CPU (Linux `schedstat`): the honest "one core" figure on a
/// machine shared with other work, where wall-clock time includes waiting for a core.
fn thread_cpu_ns() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    text.split_whitespace().next()?.parse().ok()
}
