/* sasl: the server side of SASL (RFC 4422) for SMTP AUTH, IMAP
 * AUTHENTICATE and POP3 AUTH: PLAIN (RFC 4616), LOGIN (the de-facto
 * "Username:"/"Password:" exchange), SCRAM-SHA-256 and
 * SCRAM-SHA-256-PLUS (RFC 5802, RFC 7677; channel bindings tls-exporter,
 * RFC 9266, and tls-server-end-point, RFC 5929).
 *
 * Pure: no I/O. The protocol layer feeds the client's lines exactly as
 * they appear on the wire (base64 text without CRLF; "*" cancels, "=" as
 * an initial response is the empty response, RFC 4954 4 / RFC 5034 4)
 * and sends back the base64 challenge it receives ("334 <c>", "+ <c>").
 * Credentials come through a caller-supplied lookup callback, so tests
 * run on a fake. A struct sasl_session serves one AUTH command.
 *
 * Names and passwords: no SASLprep. Names must be valid UTF-8 without
 * controls; they are compared and looked up ASCII-case-insensitively.
 * Passwords are used as the client sends them: SCRAM with a password
 * that SASLprep would change (non-ASCII spaces, soft hyphens, ...) fails.
 *
 * PLAIN and LOGIN run passwd_verify() (yescrypt, tens of milliseconds of
 * CPU) inside sasl_start()/sasl_step(); SCRAM's server side is cheap. */
#ifndef MOAT_SASL_H
#define MOAT_SASL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SASL_RESPONSE_MAX	12288	/* base64 octets per line, RFC 4954 4 */
#define SASL_USER_MAX		320	/* authcid/authzid: local@domain */
#define SASL_PASS_MAX		1024	/* octets */
#define SASL_NONCE_MAX		256	/* SCRAM client nonce, octets */
#define SASL_CBIND_MAX		64	/* channel binding data (SHA-512) */
#define SASL_MECHS_MAX		64	/* sasl_mechanisms() output incl NUL */

/* How the connection looks (struct sasl_params.flags). */
#define SASL_F_TLS		0x01	/* TLS is active */
#define SASL_F_PLAINTEXT_OK	0x02	/* allow AUTH without TLS */
/* The protocol can carry data with the success reply (RFC 4422 3.6).
 * SMTP, POP3 and IMAP cannot: without this flag SCRAM's server-final
 * message is sent as one more challenge, answered by an empty line. */
#define SASL_F_SUCCESS_DATA	0x04

/* Channel binding data of the connection, filled by the caller (see
 * sasl_cbind_from_ssl()); a length of 0 means "not available". */
struct sasl_cbind {
	uint8_t		 exporter[SASL_CBIND_MAX];	/* tls-exporter */
	size_t		 exporter_len;
	uint8_t		 endpoint[SASL_CBIND_MAX];	/* tls-server-end-point */
	size_t		 endpoint_len;
};

enum sasl_lookup_result {
	SASL_LOOKUP_OK = 0,
	SASL_LOOKUP_NO_USER,	/* no such account */
	SASL_LOOKUP_DISABLED,	/* exists, but not allowed on this service */
	SASL_LOOKUP_TEMPFAIL,	/* database error */
};

/* Look user up. On OK or DISABLED fill hash (a crypt(3) string) and scram
 * (a scram.h credential); either may be "" when the account has none.
 * hashlen is PASSWD_HASH_MAX, scramlen SCRAM_CRED_MAX. */
struct sasl_lookup {
	enum sasl_lookup_result (*lookup)(void *ctx, const char *user,
	    char *hash, size_t hashlen, char *scram, size_t scramlen);
	void	*ctx;
};

struct sasl_params {
	unsigned			 flags;		/* SASL_F_* */
	const struct sasl_lookup	*lookup;
	const struct sasl_cbind		*cbind;		/* NULL: none */
};

enum sasl_status {
	SASL_CONTINUE = 0,	/* send reply.challenge, feed the answer */
	SASL_OK,		/* authenticated as reply.user */
	SASL_FAIL,		/* reply.fail says why */
};

enum sasl_fail {
	SASL_FAIL_NONE = 0,
	SASL_FAIL_MALFORMED,	/* bad base64 or syntax      501 5.5.2 / BAD */
	SASL_FAIL_TOO_LONG,	/* line > SASL_RESPONSE_MAX  500 5.5.6 / BAD */
	SASL_FAIL_CANCELLED,	/* client sent "*"           501 5.7.0 / BAD */
	SASL_FAIL_UNKNOWN_MECH,	/*                           504 5.5.4 / NO */
	SASL_FAIL_ENCRYPT,	/* needs TLS                538 5.7.11 / NO */
	SASL_FAIL_CREDENTIALS,	/* wrong user or password    535 5.7.8 / NO */
	SASL_FAIL_AUTHZ,	/* authzid not allowed       535 5.7.8 / NO */
	SASL_FAIL_CBIND,	/* channel binding refused   535 5.7.8 / NO */
	SASL_FAIL_DISABLED,	/* right password, service off  535 / NO */
	SASL_FAIL_TEMP,		/* database error            454 4.7.0 / NO */
};

struct sasl_reply {
	enum sasl_status	 status;
	/* CONTINUE: the base64 challenge ("" = empty). OK: base64 success
	 * data when SASL_F_SUCCESS_DATA and the mechanism has some, else
	 * NULL. Valid until the next call on the session. */
	const char		*challenge;
	/* OK: the authenticated identity (authcid, lower-cased). FAIL: the
	 * name tried when known, else NULL (for the log only). */
	const char		*user;
	enum sasl_fail		 fail;
	const char		*reason;	/* FAIL: log text, no secrets */
	/* FAIL of PLAIN/LOGIN: a keyed hash of user and password (0 when
	 * unknown), so that dynamic screening counts a client retrying
	 * the same stale password once. Not reversible without the key. */
	uint64_t		 fingerprint;
};

/* The key of reply fingerprints: set once in the master before it forks,
 * so every worker computes the same fingerprint for the same attempt.
 * Without it, a per-process random key is used. */
void sasl_fingerprint_init(void);

struct sasl_session;

/* The mechanisms to advertise, space-separated, best first (e.g.
 * "SCRAM-SHA-256-PLUS SCRAM-SHA-256 PLAIN LOGIN"); "" when AUTH must not
 * be offered (no TLS and no SASL_F_PLAINTEXT_OK). -PLUS needs TLS and
 * channel binding data. Returns 0, or -1 when out is too small. */
int sasl_mechanisms(const struct sasl_params *p, char *out, size_t outlen);

/* A session for one AUTH command; p is copied. */
struct sasl_session *sasl_new(const struct sasl_params *p);
/* The ctx of the session's struct sasl_lookup. */
void *sasl_lookup_ctx(const struct sasl_session *s);
/* Wipes and frees; NULL-safe, sets *s = NULL. */
void sasl_free(struct sasl_session **s);

/* Begin mech (case-insensitive) with the initial response as sent on the
 * AUTH line (base64, "=" for empty) or NULL when there is none. Returns
 * r->status. */
enum sasl_status sasl_start(struct sasl_session *s, const char *mech,
    const char *initial, struct sasl_reply *r);
/* Feed one client line (base64 text or "*", without CRLF; len octets,
 * which may exceed SASL_RESPONSE_MAX: that fails TOO_LONG). Returns
 * r->status. After OK or FAIL the session only fails. */
enum sasl_status sasl_step(struct sasl_session *s, const char *line,
    size_t len, struct sasl_reply *r);

/* Stable names for logs ("credentials", "temp", ...). */
const char *sasl_fail_name(enum sasl_fail f);
/* The SMTP reply for a failure (RFC 4954 6): code, enhanced status and
 * text. */
void sasl_fail_smtp(enum sasl_fail f, int *code_r, const char **enh_r,
    const char **text_r);
/* The IMAP tagged reply: "BAD" or "NO", and the response code
 * (RFC 5530: "AUTHENTICATIONFAILED", "UNAVAILABLE", ...; NULL: none). */
void sasl_fail_imap(enum sasl_fail f, const char **result_r,
    const char **code_r);

/* Fill cb for a server-side TLS connection after the handshake:
 * tls-exporter (TLS 1.3 only) and tls-server-end-point (hash of our
 * certificate, RFC 5929 4.1). ssl is an OpenSSL SSL *. Returns 0 (cb may
 * still be empty) or -1 on an OpenSSL error. */
struct ssl_st;
int sasl_cbind_from_ssl(struct ssl_st *ssl, struct sasl_cbind *cb);

/* Tests only: use nonce as the SCRAM server nonce (printable, no ','). */
void sasl_test_set_nonce(struct sasl_session *s, const char *nonce);

#endif
