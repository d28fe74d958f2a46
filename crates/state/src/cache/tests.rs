use std::thread::sleep;

use super::*;
use http::HeaderValue;

fn response(body: &'static [u8]) -> Arc<CachedResponse> {
    Arc::new(CachedResponse {
        status: 200,
        headers: [(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )]
        .into_iter()
        .collect(),
        body: Bytes::from_static(body),
    })
}

fn ttl(secs: u32) -> Ttl {
    Ttl::from_secs(secs).unwrap()
}

#[test]
fn cluster_sizes_parse_and_print() {
    for size in CacheClusterSize::ALL {
        assert_eq!(size.as_str().parse::<CacheClusterSize>(), Ok(size));
        assert_eq!(size.to_string(), size.as_str());
    }
    assert!("1".parse::<CacheClusterSize>().is_err());
    assert_eq!(CacheClusterSize::Gb0_5.bytes(), 536_870_910);
    assert!(CacheClusterSize::Gb237.bytes() > 200 << 30);
}

#[test]
fn ttl_zero_means_no_caching_and_is_capped() {
    assert_eq!(Ttl::from_secs(0), None);
    assert_eq!(ttl(1).duration(), Duration::from_secs(1));
    assert_eq!(ttl(99_999).duration(), Duration::from_secs(3600));
}

#[test]
fn get_after_insert_counts_hits_and_misses() {
    let c = StageCache::new(CacheClusterSize::Gb0_5, DEFAULT_STAGE_CAP);
    assert_eq!(c.get(b"GET /pets"), None);
    c.insert(Bytes::from_static(b"GET /pets"), response(b"[]"), ttl(300))
        .unwrap();
    let hit = c.get(b"GET /pets").unwrap();
    assert_eq!(hit.body, Bytes::from_static(b"[]"));
    assert_eq!(hit.status, 200);
    // A key that is a prefix, or differs in one byte, is another entry.
    assert_eq!(c.get(b"GET /pet"), None);
    assert_eq!(c.get(b"GET /petS"), None);
    c.run_pending_tasks();
    let s = c.stats();
    assert_eq!((s.hits, s.misses, s.entries), (1, 3, 1));
    assert!(s.bytes > 9 && s.capacity == CacheClusterSize::Gb0_5.bytes().min(DEFAULT_STAGE_CAP));
}

#[test]
fn entries_expire_after_their_own_ttl() {
    let c = StageCache::new(CacheClusterSize::Gb0_5, DEFAULT_STAGE_CAP);
    c.insert(Bytes::from_static(b"short"), response(b"1"), ttl(1))
        .unwrap();
    c.insert(Bytes::from_static(b"long"), response(b"2"), ttl(3600))
        .unwrap();
    sleep(Duration::from_millis(1100));
    assert_eq!(c.get(b"short"), None);
    assert!(c.get(b"long").is_some());
    // Re-inserting takes the new TTL.
    c.insert(Bytes::from_static(b"long"), response(b"3"), ttl(1))
        .unwrap();
    sleep(Duration::from_millis(1100));
    assert_eq!(c.get(b"long"), None);
}

#[test]
fn responses_over_one_mib_are_refused() {
    let c = StageCache::new(CacheClusterSize::Gb0_5, DEFAULT_STAGE_CAP);
    let big = Arc::new(CachedResponse {
        status: 200,
        headers: http::HeaderMap::new(),
        body: Bytes::from(vec![0u8; MAX_CACHED_RESPONSE + 1]),
    });
    assert_eq!(
        c.insert(Bytes::from_static(b"k"), big, ttl(60)),
        Err(NotCached::TooLarge(MAX_CACHED_RESPONSE + 1))
    );
    assert_eq!(c.get(b"k"), None);
}

#[test]
fn byte_capacity_evicts() {
    let c = StageCache::new(CacheClusterSize::Gb0_5, 64 * 1024);
    let body = Bytes::from(vec![7u8; 1000]);
    for i in 0..1000u32 {
        let r = Arc::new(CachedResponse {
            status: 200,
            headers: http::HeaderMap::new(),
            body: body.clone(),
        });
        c.insert(Bytes::from(i.to_be_bytes().to_vec()), r, ttl(600))
            .unwrap();
    }
    c.run_pending_tasks();
    let s = c.stats();
    assert!(s.bytes <= 64 * 1024, "{s:?}");
    assert!(s.entries < 100, "{s:?}");
}

#[test]
fn flush_empties_the_stage() {
    let c = StageCache::new(CacheClusterSize::Gb0_5, DEFAULT_STAGE_CAP);
    c.insert(Bytes::from_static(b"a"), response(b"1"), ttl(60))
        .unwrap();
    c.flush();
    assert_eq!(c.get(b"a"), None);
}

#[test]
fn stage_caches_survive_redeploys_and_reset_on_resize() {
    let caches = ResponseCaches::default();
    let c1 = caches.stage("api", "prod", CacheClusterSize::Gb0_5);
    c1.insert(Bytes::from_static(b"a"), response(b"1"), ttl(60))
        .unwrap();
    // Redeploy: same settings, same cache.
    let c2 = caches.stage("api", "prod", CacheClusterSize::Gb0_5);
    assert!(Arc::ptr_eq(&c1, &c2));
    assert!(c2.get(b"a").is_some());
    // Another stage, its own cache.
    let other = caches.stage("api", "dev", CacheClusterSize::Gb0_5);
    assert_eq!(other.get(b"a"), None);
    // Resized: a new, empty cache.
    let c3 = caches.stage("api", "prod", CacheClusterSize::Gb1_6);
    assert!(!Arc::ptr_eq(&c1, &c3));
    assert_eq!(c3.get(b"a"), None);
    assert!(Arc::ptr_eq(&caches.get("api", "prod").unwrap(), &c3));
    assert_eq!(caches.len(), 2);
    assert!(caches.remove("api", "prod").is_some());
    assert!(caches.get("api", "prod").is_none());
    caches.remove_api("api");
    assert!(caches.is_empty());
}
