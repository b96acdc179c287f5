from datetime import timedelta
from refrain.adapters.firestore_renewals import seed_subscriptions
from refrain.renewals.demo import mixed_population
from tests.integration.renewals.conftest import START, make_rig

def test_dbg(cloud):
    rig = make_rig(cloud, duplicate=True, concurrency=8)
    subs = mixed_population(20, START)
    seed_subscriptions(rig.db, subs)
    for d in range(6):
        rig.clock.set(START + timedelta(days=d))
        r = rig.inline.run()
        print(r.due, r.deliveries, r.redeliveries, r.outcomes)
    print(rig.log.getvalue()[-3000:])
