/* auth_run: store lookup, mechanism policy and thread-pool SASL steps
 * shared by SMTP AUTH, IMAP AUTHENTICATE/LOGIN and POP3 AUTH/USER-PASS. */
#include "auth_run.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "dynscreen.h"
#include "store.h"
#include "store_security.h"
#include "util.h"
#include "xalloc.h"

/* An account blocked for password spraying, asked from an address it
 * never logged in from: refused like a disabled service (the password is
 * still checked first, so the answer tells a guesser nothing). */
static bool
spray_blocked(struct store *st, const struct auth_service *as,
    const char *user)
{
	struct dyn_ban b;
	bool known = false;

	if (as->dyn == NULL || as->ip[0] == '\0' ||
	    !dyn_acct_blocked(as->dyn, user, time(NULL), &b) ||
	    strncmp(b.reason, "password spraying", 17) != 0)
		return false;
	if (store_account_ip_known(st, user, as->ip, &known) < 0 || known)
		return false;
	log_info("auth service=%s ip=%s event=spray-blocked note=\"account "
	    "blocked for password spraying; address not known\"",
	    as->service, as->ip);
	return true;
}

enum sasl_lookup_result
auth_store_lookup(void *ctx, const char *user, char *hash, size_t hashlen,
    char *scram, size_t scramlen)
{
	struct auth_service *as = ctx;
	enum store_auth_result r;
	const char *error = NULL;
	struct store *auth_store;

	/* Runs in a pool thread: each thread has its own connection. */
	if ((auth_store = store_thread(as->data_dir, &error)) == NULL)
		return SASL_LOOKUP_TEMPFAIL;
	if (store_auth_lookup(auth_store, user, as->service, hash, hashlen,
	    scram, scramlen, &r, &error) < 0)
		return SASL_LOOKUP_TEMPFAIL;
	if (r != STORE_AUTH_NO_USER && spray_blocked(auth_store, as, user))
		return SASL_LOOKUP_DISABLED;
	as->frozen = false;
	if (r != STORE_AUTH_NO_USER) {
		if (store_account_frozen(auth_store, user, &as->frozen,
		    as->frozen_reason, sizeof(as->frozen_reason)) < 0)
			return SASL_LOOKUP_TEMPFAIL;
		if (as->frozen && as->refuse_frozen)
			return SASL_LOOKUP_DISABLED;
	}
	switch (r) {
	case STORE_AUTH_OK:
		return SASL_LOOKUP_OK;
	case STORE_AUTH_DISABLED:
		return SASL_LOOKUP_DISABLED;
	default:
		return SASL_LOOKUP_NO_USER;
	}
}

struct sasl_session *
auth_sasl_begin(struct auth_service *as, struct sasl_lookup *lookup,
    struct sasl_cbind *cbind, unsigned flags, struct ssl_st *ssl)
{
	struct sasl_params p = { .flags = flags };

	lookup->lookup = auth_store_lookup;
	lookup->ctx = as;
	memset(cbind, 0, sizeof(*cbind));
	if (ssl != NULL && sasl_cbind_from_ssl(ssl, cbind) == 0)
		p.cbind = cbind;
	p.lookup = lookup;
	return sasl_new(&p);
}

bool
auth_is_loopback(const char *ip)
{
	return strncmp(ip, "127.", 4) == 0 || strcmp(ip, "::1") == 0;
}

unsigned
auth_sasl_flags(const struct config *cfg, bool tls, const char *peer_ip)
{
	if (tls)
		return SASL_F_TLS;
	if (cfg->auth_cleartext_loopback && auth_is_loopback(peer_ip))
		return SASL_F_PLAINTEXT_OK;
	return 0;
}

bool
auth_fail_is_guess(enum sasl_fail f)
{
	return f == SASL_FAIL_CREDENTIALS || f == SASL_FAIL_AUTHZ ||
	    f == SASL_FAIL_CBIND || f == SASL_FAIL_DISABLED;
}

unsigned
auth_failure_delay_ms(unsigned failures)
{
	unsigned d = failures * AUTH_DELAY_STEP_MS;

	return d > AUTH_DELAY_MAX_MS || d / AUTH_DELAY_STEP_MS != failures ?
	    AUTH_DELAY_MAX_MS : d;
}

/* Remember the address of a successful login (password spraying spares
 * known addresses). */
static void
record_login_ip(const struct auth_service *as, const char *user)
{
	struct store *st;
	const char *error = NULL;

	if (as == NULL || as->ip[0] == '\0' || user[0] == '\0')
		return;
	if ((st = store_thread(as->data_dir, &error)) == NULL ||
	    store_account_ip_record(st, user, as->ip, time(NULL)) < 0)
		log_warnx("auth ip=%s event=login-ip-record-failed", as->ip);
}

static void
step_work(uv_work_t *w)
{
	struct auth_step *st = w->data;

	if (st->line == NULL)
		sasl_start(st->sasl, st->mech, st->initial, &st->reply);
	else
		sasl_step(st->sasl, st->line, st->len, &st->reply);
	/* The reply points into the SASL session: keep copies. */
	if (st->reply.status == SASL_CONTINUE && st->reply.challenge != NULL)
		moat_strlcpy(st->challenge, st->reply.challenge,
		    sizeof(st->challenge));
	if (st->reply.user != NULL)
		moat_strlcpy(st->user, st->reply.user, sizeof(st->user));
	if (st->reply.status == SASL_OK)
		record_login_ip(sasl_lookup_ctx(st->sasl), st->user);
	if (st->line != NULL) {
		explicit_bzero(st->line, st->len);
		free(st->line);
		st->line = NULL;
	}
	if (st->initial != NULL) {
		explicit_bzero(st->initial, strlen(st->initial));
		free(st->initial);
		st->initial = NULL;
	}
}

static void
step_done(uv_work_t *w, int status)
{
	struct auth_step *st = w->data;

	if (status < 0) {
		st->reply.status = SASL_FAIL;
		st->reply.fail = SASL_FAIL_TEMP;
	}
	st->done(st, status);
	free(st->line);
	free(st->initial);
	free(st);
}

static void
step_queue(uv_loop_t *loop, struct auth_step *st)
{
	st->work.data = st;
	if (uv_queue_work(loop, &st->work, step_work, step_done) != 0)
		fatalx("uv_queue_work failed");
}

int
auth_run_start(uv_loop_t *loop, struct sasl_session *sasl, const char *mech,
    size_t mechlen, const char *initial, size_t initlen,
    void (*done)(struct auth_step *, int), void *ctx)
{
	struct auth_step *st;

	if (mechlen == 0 || mechlen >= sizeof(st->mech))
		return -1;
	st = xcalloc(1, sizeof(*st));
	memcpy(st->mech, mech, mechlen);
	st->mech[mechlen] = '\0';
	if (initial != NULL)
		st->initial = xstrndup(initial, initlen);
	st->sasl = sasl;
	st->done = done;
	st->ctx = ctx;
	step_queue(loop, st);
	return 0;
}

void
auth_run_line(uv_loop_t *loop, struct sasl_session *sasl, const char *line,
    size_t len, void (*done)(struct auth_step *, int), void *ctx)
{
	struct auth_step *st = xcalloc(1, sizeof(*st));

	st->line = xmalloc(len + 1);
	memcpy(st->line, line, len);
	st->line[len] = '\0';
	st->len = len;
	st->sasl = sasl;
	st->done = done;
	st->ctx = ctx;
	step_queue(loop, st);
}
