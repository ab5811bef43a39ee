// Package replay holds the arithmetic of replaying a store's real-time
// (RT) buffer into a new version, after the Venice hybrid-store design
// (see the seeds' "start of buffer replay"): where replay starts, how far
// it has come, when a version may serve, and a dry run of the next
// replay. The controller calls it with what it gathers from the servers'
// GET /v1/status and from Kafka.
//
//   - RewindStart: end-of-push (default) or start-of-push time minus the
//     store's rewind, per api.StoreConfig.ReplayPolicy. The topic switch
//     carries it; leaders consume each RT partition from the first record
//     at or after it.
//   - Lag / Lags: per RT partition, replay began at the rewind start's
//     offset Start, the replicas have processed up to Next (their
//     upstream offsets), the topic ends at End: Replayed = Next − Start,
//     Remaining = End − Next.
//   - Status: the ready-to-serve decision (ARCHITECTURE invariant 5):
//     every partition has a replica ready to serve and, for hybrid stores,
//     a started replay whose remaining records are within the store's
//     HybridOffsetLag.
//   - Plan / PlanStore: the dry run. Per RT partition of every region, the
//     rewind start's offset (kadm ListOffsetsAfterMilli), the end, the
//     records to replay, and whether the topic still holds the rewind
//     start (Available: kadm ListStartOffsets). Complete=false means
//     retention may already have deleted records the replay needs; the
//     controller then refuses a push unless overridden.
//
// # Guarantees
//
//  1. Every function but ListSource and PlanStore is pure: the same inputs
//     give the same answer, nothing is read or changed.
//  2. Offsets never go negative and never run backwards in the
//     arithmetic: Next is clamped to at least Start, Remaining to at least
//     0, a rewind start to at least the epoch.
//  3. Availability errs on the safe side: a partition counts as available
//     only when nothing was deleted or a retained record precedes the
//     rewind start. An idle RT partition whose every record expired is
//     reported unavailable (Kafka cannot say how old the deleted records
//     were); the controller's override exists for that case.
package replay
