//! The router as a whole: rules, pools, strategies, exclusions and the never-dropped task.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use handoffd_contract::brief::Brief;
use handoffd_contract::crm::CrmOwner;

use super::*;
use crate::config::schema::BusinessConfig;

fn router(routing_yaml: &str) -> Router {
    let routing: RoutingConfig = serde_saphyr::from_str(routing_yaml).unwrap();
    let business = BusinessConfig {
        timezone: "Asia/Kolkata".into(),
        hours: [("mon", "09:30-19:30"), ("tue", "09:30-19:30")]
            .iter()
            .map(|(d, h)| (d.to_string(), h.to_string()))
            .collect(),
    };
    Router::new(&routing, &business, "crm", None).unwrap()
}

fn brief(json: serde_json::Value) -> Brief {
    let mut base = serde_json::json!({
        "customer": {"phones": [], "emails": []}, "channel_history": [], "intents": [],
        "urgency": {"level": "medium", "reasons": []}, "disposition": "callback", "objections": [],
        "do_not_ask": [], "recommended_action": "", "reasked_facts": [], "actionable": true
    });
    base.as_object_mut().unwrap().extend(json.as_object().unwrap().clone());
    serde_json::from_value(base).unwrap()
}

/// Monday 2026-06-15 11:00 IST: everyone with business hours is on shift.
fn monday_morning() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-06-15T11:00:00+05:30").unwrap().with_timezone(&Utc)
}

const TEAM: &str = "
owners:
  - {id: '1', name: Asha}
  - {id: '2', name: Vikram}
  - {id: '3', name: Ravi}
  - {id: '4', name: Meera, skills: [enterprise]}
  - {id: '5', name: Night, hours: {sat: '22:00-06:00'}}
pools:
  sales: ['1', '2', '3']
  enterprise: ['4', '5']
  nights: ['5']
rules:
  - {name: big-deals, when: {intent: [enterprise_deal]}, pool: enterprise, skills: [enterprise], strategy: least_open_tasks}
  - {name: voice, when: {channel: [voice]}, pool: sales, strategy: sticky, confirm: true}
  - {name: night-desk, when: {urgency: [high]}, pool: nights, fallback_pool: enterprise}
default_pool: sales
";

#[test]
fn round_robin_is_fair_over_a_thousand_handoffs_and_across_restarts() {
    let router = router(TEAM);
    let mut counts: HashMap<String, u32> = HashMap::new();
    let mut positions = BTreeMap::new();
    for chunk in 0..100 {
        // Every ten handoffs the round ends and is "committed"; the next round starts from the store's
        // positions, as after a restart.
        let mut round = RoutingRound { positions: positions.clone(), ..Default::default() };
        for _ in 0..10 {
            let decision =
                router.decide(&brief(serde_json::json!({})), &RouteFacts::default(), monday_morning(), &mut round);
            let owner = decision.owner.expect("someone in sales is on shift");
            assert_eq!((decision.rule.as_str(), owner.pool.as_str()), (NO_RULE, "sales"));
            *counts.entry(owner.id).or_default() += 1;
        }
        for (pool, used) in round.advances() {
            *positions.entry(pool).or_insert(0) += used as i64;
        }
        assert!(chunk < 100);
    }
    let (most, fewest) = (counts.values().max().unwrap(), counts.values().min().unwrap());
    assert_eq!(counts.values().sum::<u32>(), 1000);
    assert_eq!(counts.len(), 3, "all of sales and nobody else: {counts:?}");
    assert!(most - fewest <= 1, "most minus fewest: {counts:?}");
}

#[test]
fn sticky_keeps_the_contacts_owner_unless_off_shift() {
    let router = router(TEAM);
    let voice =
        |owner: &str| RouteFacts { channel: Some("voice".into()), contact_owner: Some(owner.into()), language: None };
    let mut round = RoutingRound::default();
    let decision = router.decide(&brief(serde_json::json!({})), &voice("2"), monday_morning(), &mut round);
    assert_eq!(decision.owner.as_ref().unwrap().id, "2");
    assert_eq!(decision.confirm, Some(true), "the rule's confirm flag rides on the decision");
    assert!(decision.owner.unwrap().tie_break.starts_with("sticky: `2` owns the contact"));

    // The contact's owner works nights only: round robin in the pool instead, and the reason says so.
    let owners_pool_router = router_with_sticky_night();
    let decision = owners_pool_router.decide(&brief(serde_json::json!({})), &voice("5"), monday_morning(), &mut round);
    let chosen = decision.owner.expect("round robin finds someone");
    assert_ne!(chosen.id, "5");
    assert!(
        chosen.tie_break.starts_with("sticky owner unavailable: off shift until Sat 22:00 Asia/Kolkata; round robin"),
        "{}",
        chosen.tie_break
    );
}

fn router_with_sticky_night() -> Router {
    router(&TEAM.replace("sales: ['1', '2', '3']", "sales: ['1', '2', '3', '5']"))
}

#[test]
fn capacity_skills_and_least_open() {
    let router = router(TEAM);
    let deal = brief(serde_json::json!({"intents": [{"code": "enterprise_deal", "evidence": "500 seats", "turn": 0}]}));
    let mut round = RoutingRound { open: HashMap::from([("4".to_owned(), 3)]), ..Default::default() };
    let decision = router.decide(&deal, &RouteFacts::default(), monday_morning(), &mut round);
    assert_eq!(decision.rule, "big-deals");
    assert_eq!(decision.owner.as_ref().unwrap().id, "4", "the only one with the skill");
    let exclusions = decision.exclusions();
    assert!(exclusions.iter().any(|e| e.starts_with("5: off shift")), "{exclusions:?}");
    assert_eq!(round.open["4"], 4, "the round counts what it handed out");

    // At capacity: Meera is out, and with nobody else skilled the default pool takes it.
    let capped = router_from(TEAM.replace("skills: [enterprise]}", "skills: [enterprise], capacity: 4}"));
    let decision = capped.decide(&deal, &RouteFacts::default(), monday_morning(), &mut round);
    assert!(decision.exclusions().contains(&"4: over capacity 4/4".to_owned()), "{:?}", decision.exclusions());
    assert_eq!(decision.owner.unwrap().pool, "sales");
}

fn router_from(yaml: String) -> Router {
    router(&yaml)
}

#[test]
fn least_open_tasks_takes_the_fewest() {
    let router = router(&TEAM.replace("pool: sales, strategy: sticky", "pool: sales, strategy: least_open_tasks"));
    let voice = RouteFacts { channel: Some("voice".into()), ..Default::default() };
    let mut round =
        RoutingRound { open: HashMap::from([("1".into(), 5), ("2".into(), 1), ("3".into(), 2)]), ..Default::default() };
    let picks: Vec<String> = (0..3)
        .map(|_| router.decide(&brief(serde_json::json!({})), &voice, monday_morning(), &mut round).owner.unwrap().id)
        .collect();
    // 2 (1 open), then 2 and 3 tie at 2: the pool's order, then 3.
    assert_eq!(picks, ["2", "2", "3"]);
}

#[test]
fn nobody_available_goes_out_unassigned_and_says_so() {
    // Monday morning: the night pool and its fallback have nobody on shift, and there is no default pool.
    let router =
        router(&TEAM.replace("default_pool: sales\n", "").replace("enterprise: ['4', '5']", "enterprise: ['5']"));
    let mut hot = brief(serde_json::json!({"urgency": {"level": "high", "reasons": []}}));
    let mut round = RoutingRound::default();
    let decision = router.route(&mut hot, &RouteFacts::default(), monday_morning(), &mut round);
    assert!(decision.owner.is_none());
    assert_eq!(decision.pools.iter().map(|p| p.pool.as_str()).collect::<Vec<_>>(), ["nights", "enterprise"]);
    assert!(hot.recommended_owner.is_none());
    assert!(
        hot.notes.iter().any(|n| n.starts_with("Unassigned: nobody in pool `nights` is available")),
        "{:?}",
        hot.notes
    );
    assert!(hot.due.is_some(), "still due, in business hours");
}

#[test]
fn an_owner_gone_from_the_crm_is_passed_over_with_the_reason() {
    let router = router("owners: [{email: asha@x.in}, {email: vikram@x.in}, {id: '9'}]\n");
    let directory = OwnerDirectory::new([
        CrmOwner { id: "7".into(), name: None, email: Some("asha@x.in".into()), active: false },
        CrmOwner { id: "8".into(), name: None, email: Some("vikram@x.in".into()), active: true },
    ]);
    let mut round = RoutingRound { directory: Some(directory), ..Default::default() };
    let decision = router.decide(&brief(serde_json::json!({})), &RouteFacts::default(), monday_morning(), &mut round);
    assert_eq!(decision.owner.as_ref().unwrap().id, "8", "emails resolve to CRM ids");
    assert_eq!(
        decision.exclusions(),
        ["asha@x.in: inactive in the CRM (user `7`)", "9: unknown in the CRM: no user with id `9`"]
    );
}

#[test]
fn reassign_moves_off_the_owner_named() {
    let router = router(TEAM);
    let mut round =
        RoutingRound { open: HashMap::from([("1".into(), 0), ("2".into(), 4), ("3".into(), 1)]), ..Default::default() };
    let decision = router.reassign_in("sales", &["1".to_owned()], monday_morning(), &mut round);
    assert_eq!(decision.owner.unwrap().id, "3");
    assert_eq!(
        decision.pools[0].candidates[0].excluded.as_deref(),
        Some("excluded: the task is being moved away from this owner")
    );
}

#[test]
fn todays_shape_is_one_pool_round_robin() {
    let router = router("owners: [{id: '75480001', name: Asha Rao}, {id: '75480002', name: Vikram Shah}]\n");
    let mut round = RoutingRound::default();
    let mut b = brief(serde_json::json!({}));
    let first = router.route(&mut b, &RouteFacts::default(), monday_morning(), &mut round);
    let second = router.decide(&brief(serde_json::json!({})), &RouteFacts::default(), monday_morning(), &mut round);
    assert_eq!((first.owner.unwrap().id, second.owner.unwrap().id), ("75480001".into(), "75480002".into()));
    let owner = b.recommended_owner.unwrap();
    assert_eq!(owner.rule, NO_RULE);
    assert!(owner.reason.starts_with("pool `default`: round robin: turn 1 of 2"), "{}", owner.reason);
    assert_eq!(b.due.unwrap().reason, "medium urgency: within 4h of Asha Rao's working time");
}

/// Instances routing at the same instant against one PostgreSQL: each takes its round-robin turns by a
/// compare-and-set on the pool's position, so no turn is handed out twice and the pool stays fair. (Without the
/// claim, routers reading the same position before either commits hand out the same turn.)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_routers_on_postgres_never_hand_out_the_same_turn() {
    const ROUTERS: usize = 4;
    const EACH: usize = 40;
    let Some((_store, schema)) =
        crate::store::postgres::scratch::store("concurrent_routers_never_hand_out_the_same_turn").await
    else {
        return;
    };
    let barrier = Arc::new(tokio::sync::Barrier::new(ROUTERS));
    let mut routers = Vec::new();
    for _ in 0..ROUTERS {
        // An instance of its own: its own connection pool to the same schema.
        let instance: Arc<dyn PipelineStore> =
            Arc::new(crate::store::postgres::PostgresStore::connect(schema.options()).await.unwrap());
        let routing: RoutingConfig = serde_saphyr::from_str(TEAM).unwrap();
        let business = BusinessConfig { timezone: "Asia/Kolkata".into(), hours: BTreeMap::new() };
        let router = Router::new(&routing, &business, "crm", Some(instance)).unwrap();
        let barrier = barrier.clone();
        routers.push(tokio::spawn(async move {
            barrier.wait().await;
            let mut taken = Vec::new();
            for _ in 0..EACH {
                // A round per brief, as a busy handoff maker reads it: the position may already be stale.
                let mut round = router.round().await.unwrap();
                round.claims_turns = true;
                let mut routed = brief(serde_json::json!({}));
                let decision = router
                    .route_claiming(&mut routed, &RouteFacts::default(), monday_morning(), &mut round)
                    .await
                    .unwrap();
                let chosen = decision.owner.clone().expect("sales has owners on shift");
                let attempt = decision.pools.iter().find(|p| p.pool == chosen.pool).unwrap();
                taken.push((attempt.turn.expect("round robin takes a turn").0, chosen.id));
                assert!(round.advances().is_empty(), "a claimed turn is not advanced again at commit");
            }
            taken
        }));
    }
    let mut turns = Vec::new();
    for router in routers {
        turns.extend(router.await.unwrap());
    }
    let mut positions: Vec<i64> = turns.iter().map(|(turn, _)| *turn).collect();
    positions.sort_unstable();
    assert_eq!(positions, (0..(ROUTERS * EACH) as i64).collect::<Vec<_>>(), "every turn handed out exactly once");
    let mut per_owner: HashMap<&str, usize> = HashMap::new();
    for (_, owner) in &turns {
        *per_owner.entry(owner.as_str()).or_default() += 1;
    }
    let (most, fewest) = (per_owner.values().max().unwrap(), per_owner.values().min().unwrap());
    assert!(most - fewest <= 1, "fair across instances: {per_owner:?}");
}
