// Package kafkaconn turns a configuration file's "kafka" section into the
// franz-go options that secure a connection: TLS (a private CA, a client
// certificate, a server name) and SASL authentication (PLAIN,
// SCRAM-SHA-256, SCRAM-SHA-512).
//
// The server, the controller and the Connect-style sink embed a Config in
// their own configuration; their Validate reports its problems with the
// rest, and New appends Opts to every Kafka client the part builds. The
// CLI reads the same object from its --kafka-config file, and
// writer.Security takes one:
//
//	"kafka": {
//	  "tls":  {"caFile": "/etc/rialto/kafka-ca.pem"},
//	  "sasl": {"mechanism": "SCRAM-SHA-512", "user": "rialto",
//	           "passwordFile": "/etc/rialto/kafka-password"}
//	}
//
// # Guarantees
//
//  1. The zero Config is plaintext without authentication: Opts returns no
//     options, so a configuration without a "kafka" section behaves as
//     before.
//  2. A "tls" object, even empty, turns TLS on: the brokers' certificates
//     are verified against caFile or, without one, the system roots, at
//     TLS 1.2 or later. Only insecureSkipVerify turns verification off.
//  3. Validate reports every problem at once (unknown mechanism, missing
//     user or password, a certificate without its key, unreadable or
//     unparsable files), each a *FieldError naming the field by its JSON
//     path ("tls.certFile"). Opts fails exactly when Validate does.
//  4. Files are read when Validate or Opts is called; the options Opts
//     returns hold what was read then. A rotated certificate or password
//     takes effect when the process builds its clients again (a restart).
//  5. The password never appears in String, GoString, LogValue, JSON
//     output or any error of this package: it is a Secret, which prints
//     as "<redacted>".
//  6. Check connects once and tells a refusal (ErrAuthentication, ErrTLS:
//     wrong password, untrusted certificate, TLS on one side only) from a
//     cluster that cannot be reached yet, within seconds: franz-go
//     retries a closed connection until its context ends, so a client
//     with a wrong password otherwise just waits. The parts call it from
//     New when their "kafka" section is set, writer.New with Security,
//     and the CLI once per region before its first client.
//
// SASL without TLS is allowed (Kafka's SASL_PLAINTEXT); with PLAIN it
// sends the password in clear, so use it only on a trusted network.
package kafkaconn
