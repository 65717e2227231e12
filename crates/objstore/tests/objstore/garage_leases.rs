//! Leases on Garage, which has no conditional create: the claims scheme.

use objstore::garage::Garage;

use crate::leases;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_holders_on_garage() {
    let garage = Garage::start().await.unwrap();
    let a = garage.target("p").await.unwrap();
    let b = garage.target("p").await.unwrap();
    assert!(!a.supports_conditional_create().await.unwrap());
    leases::two_holders(&a, &b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_renewal_and_takeover_on_garage() {
    let garage = Garage::start().await.unwrap();
    let a = garage.target("p").await.unwrap();
    let b = garage.target("p").await.unwrap();
    leases::expiry_renewal_and_takeover(&a, &b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_race_on_garage_has_one_winner() {
    let garage = Garage::start().await.unwrap();
    let mut targets = Vec::new();
    for _ in 0..4 {
        targets.push(garage.target("p").await.unwrap());
    }
    for _ in 0..3 {
        leases::a_race_has_one_winner(&targets).await;
        // Clear the winner's lease for the next round.
        for key in targets[0].list(".tgdl/leases/").await.unwrap() {
            targets[0].delete(&key).await.unwrap();
        }
    }
}
