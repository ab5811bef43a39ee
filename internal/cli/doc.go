// Package cli holds the commands of the rialto binary. cmd/rialto only
// wires a signal-cancelled context and the process's streams into Main.
//
// # Contract
//
// The command tree follows issue 8's contract: every command finds the
// cluster with the global --controller URL (default
// http://127.0.0.1:7070, or $RIALTO_CONTROLLER), sends the controller's
// admin token from --token (or $RIALTO_TOKEN, never printed), reaches
// Kafka with the TLS and SASL settings of the --kafka-config file (or
// $RIALTO_KAFKA_CONFIG; plaintext without), prints with --output
// text|json, has --help with examples, and on failure exits non-zero with
// exactly one line "rialto: <reason>" on stderr: 2 for usage errors
// (unknown command or flag, bad flag value), 1 for everything else.
// Results go to stdout, logs (log/slog, --log-level) to stderr.
//
// # Adding a command
//
//  1. In a new file write func newXCmd(app *App) *cobra.Command with RunE
//     (never Run, never os.Exit, never print the error yourself). Take the
//     context from cmd.Context(): it is cancelled on SIGINT/SIGTERM, and a
//     long-running command returns nil when it is.
//  2. Register it in NewRoot. A command that only groups others (store,
//     write, read, version, replay, topic) is made with newGroup, which
//     turns an unknown subcommand into a one-line usage error.
//  3. Put the flags into a Config struct with EnsureDefaults and a Validate
//     that reports every problem at once, wrapped with usageErrorf (see
//     DevConfig). Don't use MarkFlagRequired: its error is not a usage
//     error. Repeated flags (--add FIELD=JSON ...) are StringArray, never
//     StringSlice, which would split JSON on its commas.
//  4. Print results with app.Print(text, value): text for --output text,
//     value as one JSON object per line for --output json.
//  5. Give the command an Example and test it in-process through Main with
//     buffers for stdout and stderr (see dev_test.go).
//
// # Files
//
//	root.go      the tree, global flags, App.Print
//	cluster.go   what commands share: the controller client, regions
//	             (--region by name or id), a region's servers (the members
//	             of its placement group, $RIALTO_SERVER_GROUP), schema args
//	dev.go       rialto dev
//	parts.go     rialto server and rialto controller (config files)
//	store.go     store create|list|describe|update|delete, schema add
//	write.go     write put|update|delete and --wait
//	read.go      read get|batch
//	version.go   version list|swap|rollback|kill, replay status|plan
//	topic.go     topic inspect
//	push.go, sink.go   rialto push and rialto sink (their own authors)
//	security.go  --token and --kafka-config: the Kafka clients of a region
//	             (checked once against the brokers), the hints Main adds
//	             to a 401 and to a Kafka refusal
//
// --wait compares, per region, the processed upstream offset that the
// ready replicas of the key's partition in the store's current version
// report in GET /v1/status (for the write's region and RT partition) with
// the offset the write got; the write is readable there once the offset is
// past it. replay plan asks the controller and, when the controller has
// no plan endpoint, computes the same plan with package replay from every
// region's RT offsets.
//
// # rialto dev
//
// dev runs one embedded Kafka broker per region (package embedkafka), each
// with its own data directory, the controller (every region, local region
// 1) and one server per region following its region's admin log, all on
// loopback. Regions have ids 1..N and names region-1..region-N. dev prints
// the endpoints and then the line "ready" once the controller is elected
// and every server has a placement plan and answers /readyz with 200.
// Data directory layout:
//
//	<data-dir>/region-<N>/kafka    the embedded broker of region N
//	<data-dir>/region-<N>/server   the Pebble database of region N's server
//
// The default data directory is $XDG_DATA_HOME/rialto/dev, or
// ~/.local/share/rialto/dev without XDG_DATA_HOME, or ./rialto-data without
// a home directory: it survives restarts and stays out of the repository.
package cli
