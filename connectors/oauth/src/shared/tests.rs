use std::sync::Mutex as StdMutex;

use async_trait::async_trait;
use handoffd_contract::auth::MemoryVault;

use super::*;

/// A vendor that rotates refresh tokens and refuses one that was used.
#[derive(Default)]
struct Rotating {
    state: StdMutex<Vendor>,
}

#[derive(Default)]
struct Vendor {
    /// The one refresh token accepted now (`None`: the first one asked for is accepted, as configured).
    current: Option<String>,
    minted: u32,
}

struct Client(Arc<Rotating>);

#[async_trait]
impl Grant for Client {
    async fn mint(&self, refresh_token: Option<&str>) -> Result<StoredToken, CrmError> {
        // The vendor takes its time, so concurrent callers overlap.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut vendor = self.0.state.lock().unwrap();
        let offered = refresh_token.unwrap_or_default();
        if vendor.current.as_deref().is_some_and(|current| current != offered) {
            return Err(CrmError::Auth(format!("invalid_grant: refresh token {offered} was used already")));
        }
        vendor.minted += 1;
        let n = vendor.minted;
        vendor.current = Some(format!("r{n}"));
        Ok(StoredToken {
            access_token: format!("a{n}"),
            refresh_token: Some(format!("r{n}")),
            expires_at: Some(Utc::now() + chrono::Duration::hours(1)),
            instance_url: None,
            scope: Some("crm.read".into()),
        })
    }
}

fn client(vendor: &Arc<Rotating>, vault: &Arc<MemoryVault>) -> SharedToken {
    SharedToken::new("crm", "Mock", Box::new(Client(vendor.clone())), vault.clone(), Some("r0".into()))
}

async fn expire(vault: &MemoryVault) {
    let mut token = vault.load("crm").await.unwrap().unwrap();
    token.expires_at = Some(Utc::now() - chrono::Duration::seconds(1));
    vault.save("crm", &token).await.unwrap();
}

#[tokio::test]
async fn two_instances_asking_at_once_refresh_once_and_share_the_token() {
    let vendor = Arc::new(Rotating::default());
    let vault = Arc::new(MemoryVault::default());
    let (a, b) = (client(&vendor, &vault), client(&vendor, &vault));
    let (ta, tb) = tokio::join!(a.current(), b.current());
    assert_eq!(ta.unwrap().access_token, "a1");
    assert_eq!(tb.unwrap().access_token, "a1", "the second instance read the first one's token");
    assert_eq!(vendor.state.lock().unwrap().minted, 1);
    let stored = vault.load("crm").await.unwrap().unwrap();
    assert_eq!(stored.refresh_token.as_deref(), Some("r1"), "the rotated refresh token is in the vault");
    assert_eq!(stored.scope.as_deref(), Some("crm.read"));
}

#[tokio::test]
async fn after_another_instance_rotated_the_refresh_token_the_new_one_is_used() {
    let vendor = Arc::new(Rotating::default());
    let vault = Arc::new(MemoryVault::default());
    let (a, b) = (client(&vendor, &vault), client(&vendor, &vault));
    assert_eq!(a.current().await.unwrap().access_token, "a1");
    assert_eq!(b.current().await.unwrap().access_token, "a1");
    // A's token expires: A refreshes with r1 (r0 is dead) and saves r2.
    expire(&vault).await;
    a.state.lock().await.token = vault.load("crm").await.unwrap();
    assert_eq!(a.current().await.unwrap().access_token, "a2");
    // B still holds a1; the vendor refuses it: B reads a2 instead of spending r2.
    assert_eq!(b.replace("a1").await.unwrap().access_token, "a2");
    assert_eq!(vendor.state.lock().unwrap().minted, 2);
    // Both expired: B refreshes with the newest refresh token, r2.
    expire(&vault).await;
    b.state.lock().await.token = vault.load("crm").await.unwrap();
    assert_eq!(b.current().await.unwrap().access_token, "a3");
    assert_eq!(vault.load("crm").await.unwrap().unwrap().refresh_token.as_deref(), Some("r3"));
}

#[tokio::test]
async fn a_refused_token_that_nobody_replaced_is_refreshed_once() {
    let vendor = Arc::new(Rotating::default());
    let vault = Arc::new(MemoryVault::default());
    let a = client(&vendor, &vault);
    assert_eq!(a.current().await.unwrap().access_token, "a1");
    let (x, y) = tokio::join!(a.replace("a1"), a.replace("a1"));
    assert_eq!((x.unwrap().access_token, y.unwrap().access_token), ("a2".into(), "a2".into()));
    assert_eq!(vendor.state.lock().unwrap().minted, 2, "two callers refused the same token: one refresh");
}

#[tokio::test]
async fn a_holder_that_died_mid_refresh_is_waited_out_then_replaced() {
    let vendor = Arc::new(Rotating::default());
    let vault = Arc::new(MemoryVault::default());
    // Another instance took the right and died.
    assert!(vault.begin_refresh("crm", "dead", Duration::from_millis(300)).await.unwrap());
    let a = client(&vendor, &vault).with_refresh_hold(Duration::from_millis(300));
    let started = std::time::Instant::now();
    assert_eq!(a.current().await.unwrap().access_token, "a1");
    assert!(started.elapsed() >= Duration::from_millis(200), "it waited for the dead holder's right to lapse");
}

#[tokio::test]
async fn a_refused_stored_refresh_token_falls_back_to_the_configured_one() {
    let vendor = Arc::new(Rotating::default());
    vendor.state.lock().unwrap().current = Some("r0".into());
    let vault = Arc::new(MemoryVault::default());
    // The vault holds a refresh token from before the app was authorised again; the config has the new one.
    let mut old = StoredToken::access_only("a-old");
    old.refresh_token = Some("r-old".into());
    old.expires_at = Some(Utc::now());
    vault.save("crm", &old).await.unwrap();
    assert_eq!(client(&vendor, &vault).current().await.unwrap().access_token, "a1");
    assert_eq!(vault.load("crm").await.unwrap().unwrap().refresh_token.as_deref(), Some("r1"));
}

/// A vault whose saves fail until told otherwise.
#[derive(Default)]
struct Flaky {
    inner: MemoryVault,
    failing: std::sync::atomic::AtomicBool,
}

#[async_trait]
impl TokenVault for Flaky {
    async fn load(&self, id: &str) -> Result<Option<StoredToken>, String> {
        self.inner.load(id).await
    }
    async fn save(&self, id: &str, token: &StoredToken) -> Result<(), String> {
        if self.failing.load(std::sync::atomic::Ordering::SeqCst) {
            return Err("disk full".into());
        }
        self.inner.save(id, token).await
    }
    async fn begin_refresh(&self, id: &str, holder: &str, hold: Duration) -> Result<bool, String> {
        self.inner.begin_refresh(id, holder, hold).await
    }
    async fn end_refresh(&self, id: &str, holder: &str) -> Result<(), String> {
        self.inner.end_refresh(id, holder).await
    }
}

#[tokio::test]
async fn an_unsaved_token_keeps_the_refresh_right_and_is_saved_on_the_next_call() {
    let vendor = Arc::new(Rotating::default());
    let vault = Arc::new(Flaky::default());
    vault.failing.store(true, std::sync::atomic::Ordering::SeqCst);
    let a = SharedToken::new("crm", "Mock", Box::new(Client(vendor.clone())), vault.clone(), Some("r0".into()));
    assert_eq!(a.current().await.unwrap().access_token, "a1", "the token works in this process");
    assert!(!vault.begin_refresh("crm", "other", Duration::from_secs(1)).await.unwrap(), "nobody else refreshes");
    vault.failing.store(false, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(a.current().await.unwrap().access_token, "a1");
    assert_eq!(vault.load("crm").await.unwrap().unwrap().refresh_token.as_deref(), Some("r1"));
    assert!(vault.begin_refresh("crm", "other", Duration::from_secs(1)).await.unwrap(), "the right was given up");
}

#[test]
fn a_token_inside_the_margin_is_not_fresh() {
    let now = Utc::now();
    let token = |expires_at| StoredToken { expires_at, ..StoredToken::access_only("a") };
    assert!(is_fresh(&token(Some(now + chrono::Duration::minutes(30))), now));
    assert!(!is_fresh(&token(Some(now + chrono::Duration::minutes(4))), now));
    assert!(!is_fresh(&token(Some(now - chrono::Duration::minutes(1))), now));
    assert!(is_fresh(&token(None), now));
}
