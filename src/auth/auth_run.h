/* auth_run: what every protocol needs around the SASL module (sasl.h):
 * the credential lookup against the store for a service (each thread-pool
 * thread has its own database connection), the rule for offering
 * mechanisms (TLS, or cleartext on loopback when [auth]
 * cleartext_loopback allows it), and running sasl_start()/sasl_step() in
 * libuv's thread pool, since PLAIN and LOGIN verify a yescrypt hash (tens
 * of milliseconds): the session's loop never blocks on it. */
#ifndef MOAT_AUTH_RUN_H
#define MOAT_AUTH_RUN_H

#include <stdbool.h>
#include <stddef.h>

#include <uv.h>

#include "config.h"
#include "sasl.h"

/* The lookup context of a session: stable for the session's lifetime. */
struct dynscreen;

struct auth_service {
	const char	*data_dir;
	const char	*service;	/* account setting: smtp, imap, pop3 */
	/* Password spraying: an account dynamic screening blocked may log
	 * in only from addresses it logged in from before (recorded on
	 * every success). NULL dyn: no such check. */
	char		 ip[64];	/* a copy: the job may outlive
					   the connection */
	struct dynscreen *dyn;
	/* [hijack] frozen_mail_access = no: a frozen account may not log
	 * in to read mail either. */
	bool		 refuse_frozen;
	/* Filled by the lookup (in the pool, read after the step): is the
	 * account frozen by hijack detection, and why. SMTP refuses such a
	 * login itself, with the reason. */
	bool		 frozen;
	char		 frozen_reason[160];
};

/* One login of a session: fill as (the address is copied), point
 * lookup at it, take the channel binding data from ssl (NULL: no TLS)
 * into cbind, and make the SASL session with flags. as, lookup and cbind
 * belong to the session and must outlive the SASL session. */
struct sasl_session *auth_sasl_begin(struct auth_service *as,
    struct sasl_lookup *lookup, struct sasl_cbind *cbind, unsigned flags,
    struct ssl_st *ssl);

/* A struct sasl_lookup callback; ctx is a struct auth_service. */
enum sasl_lookup_result auth_store_lookup(void *ctx, const char *user,
    char *hash, size_t hashlen, char *scram, size_t scramlen);

bool auth_is_loopback(const char *ip);
/* SASL_F_TLS, or SASL_F_PLAINTEXT_OK for a permitted cleartext peer. */
unsigned auth_sasl_flags(const struct config *cfg, bool tls,
    const char *peer_ip);

/* Failures that are guesses (wrong credentials, refused authorization or
 * channel binding, a disabled service) are answered after a delay that
 * grows per failure in the session (Dovecot-style), capped. */
#define AUTH_DELAY_STEP_MS 1000
#define AUTH_DELAY_MAX_MS 5000
bool auth_fail_is_guess(enum sasl_fail f);
unsigned auth_failure_delay_ms(unsigned failures);

/* One SASL step in the thread pool. reply and the copies below are valid
 * in done(), which runs on the loop thread; the step is freed after. */
struct auth_step {
	uv_work_t		 work;
	struct sasl_session	*sasl;
	char			 mech[32];
	char			*initial;	/* sasl_start; NULL: none */
	char			*line;		/* sasl_step; NULL: start */
	size_t			 len;
	struct sasl_reply	 reply;
	char			 challenge[SASL_RESPONSE_MAX + 1];
	char			 user[SASL_USER_MAX + 1];
	void			(*done)(struct auth_step *st, int status);
	void			*ctx;
};

/* Begin mech with an optional initial response; or feed one line. Both
 * copy their inputs (and wipe the copies after use). Returns -1 when the
 * mechanism name is too long (nothing queued). */
int auth_run_start(uv_loop_t *loop, struct sasl_session *sasl,
    const char *mech, size_t mechlen, const char *initial, size_t initlen,
    void (*done)(struct auth_step *, int), void *ctx);
void auth_run_line(uv_loop_t *loop, struct sasl_session *sasl,
    const char *line, size_t len, void (*done)(struct auth_step *, int),
    void *ctx);

#endif
