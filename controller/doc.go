// Package controller owns what a store is and which version serves.
//
// Metadata (stores, value schemas and what is derived from them, versions
// with their status and role) lives in go-memdb. Every change is first
// appended to a compacted Kafka admin topic — in every region — and only
// then applied, so a restarted controller replays the topic and has
// everything; servers replay the same topic to learn which versions to
// host and which one is current.
//
// # Guarantees
//
//  1. A change the API acknowledged is in the admin log of every region.
//  2. Only the elected controller of the region (the member of the
//     controller group that is assigned the admin topic's partition)
//     changes metadata; the others follow the log, serve reads of it, and
//     answer writes with 503 ("not the active one; retry"). Clients retry
//     against the address they were given (a load balancer over the
//     region's controllers, or the next one); the standby does not know
//     the active one's address.
//  3. A version becomes current only when every partition of it, in every
//     region, reports ready to serve: end-of-push seen and, for hybrid
//     stores, the replay lag at or under the store's threshold
//     (ARCHITECTURE invariant 5).
//  4. One full push at a time per store: a second is refused.
//  5. Store revisions only increase, so a replayed older record never
//     overwrites a newer one.
//
// # Lifecycle
//
// A new store gets an empty version 1 at once (start and end of push, and
// a topic switch for hybrid stores), current immediately, so nearline
// writes and reads work right away. A full push creates version N+1
// (future); the push job writes it and reports end-of-push; the controller
// then writes a topic switch whose rewind start is end-of-push (or
// start-of-push) time minus the store's rewind; the leaders replay the RT
// buffer; when every partition is ready the controller swaps: N+1 becomes
// current, N a backup that keeps applying nearline writes, and versions
// beyond VersionsToKeep are retired and their topics deleted (versions
// rolled back from first). Rollback makes the newest backup older than the
// current version current again (swap brings a rolled-back one back).
package controller
