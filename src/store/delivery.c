/* delivery: local, remote and finishing steps of one delivery attempt.
 *
 * Progress is per original recipient (the envelope's RCPT). A recipient
 * is done when every mailbox it expands to has the message: local copies
 * are idempotent (maildir_deliver), remote ones are re-sent if the
 * recipient is retried. */
#include "delivery.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>

#include "arc.h"
#include "bounce.h"
#include "buf.h"
#include "dkim.h"
#include "mime.h"
#include "list_expand.h"
#include "log.h"
#include "maildir.h"
#include "outbound.h"
#include "queue.h"
#include "quarantine.h"
#include "quota.h"
#include "archive_queue.h"
#include "authn_sign.h"
#include "store.h"
#include "store_security.h"
#include "util.h"
#include "xalloc.h"

#define DELIVERY_TARGETS_MAX 10000	/* mailboxes per recipient */
#define DELIVERY_LOCAL_MAX 256
#define DELIVERY_HEADER_SCAN (256 * 1024)	/* where From: is looked for */
#define AUTHRES_VALUE_MAX 8192			/* our A-R value, for ARC */

/* Outcome of one recipient during an attempt. */
enum rcpt_outcome { RC_SKIP = 0, RC_DONE, RC_FAILED, RC_TEMP };

struct rcpt_state {
	enum rcpt_outcome outcome;
	size_t		 nremote;	/* remote targets still to send */
	char		 reason[256];
	char		 remote_mta[256];
};

struct djob {
	uv_work_t		 work;
	struct delivery_ctx	*dc;
	char			 id[QUEUE_ID_LEN + 1];
	bool			 recovered;
	delivery_cb		*cb;
	void			*arg;
	/* filled by the local step */
	bool			 loaded;
	struct buf		 data;
	size_t			 off;
	struct queue_envelope	 env;
	struct queue_state	 st;
	struct rcpt_state	*rs;
	/* remote targets, with the recipient they came from */
	char			**remote;
	size_t			*remote_of;
	size_t			 nremote;
	struct buf		 signed_msg;	/* DKIM-Signature + message */
	char			 forward_domain[256];	/* ARC-seals for */
	struct outbound_job	 ob;
	struct smtp_client_result *results;
	char			(*mta)[256];
	struct delivery_outcome	 out;
};


/* The pool thread's store (store_thread), set at the start of a job. */
static __thread struct store *thread_store;

struct target {
	char	 local[DELIVERY_LOCAL_MAX];
	char	 domain[256];
	bool	 account;
};

struct resolve_ctx {
	struct target	*targets;
	size_t		 ntargets;
	bool		 overflow;
};

static void
collect_target(void *vctx, const char *local, const char *domain,
    bool is_account)
{
	struct resolve_ctx *rc = vctx;
	size_t i;

	for (i = 0; i < rc->ntargets; i++)
		if (strcmp(rc->targets[i].local, local) == 0 &&
		    strcmp(rc->targets[i].domain, domain) == 0)
			return;
	if (rc->ntargets == DELIVERY_TARGETS_MAX) {
		rc->overflow = true;
		return;
	}
	rc->targets = xreallocarray(rc->targets, rc->ntargets + 1,
	    sizeof(*rc->targets));
	moat_strlcpy(rc->targets[rc->ntargets].local, local,
	    sizeof(rc->targets[0].local));
	moat_strlcpy(rc->targets[rc->ntargets].domain, domain,
	    sizeof(rc->targets[0].domain));
	rc->targets[rc->ntargets].account = is_account;
	rc->ntargets++;
}

/* The account's quota (RFC 3463 X.2.2): over it, the message waits in
 * the queue (4.2.2, a delay DSN, a bounce at expiry); a message larger
 * than the whole quota can never fit and fails at once (5.2.2). (A
 * retry whose file an earlier attempt wrote is not asked: see the
 * caller.) Returns true when delivery may go on. */
static bool
quota_allows(struct djob *j, struct rcpt_state *rs, const struct target *t,
    uint64_t size)
{
	enum quota_result qr;
	uint64_t limit = 0;

	if (quota_check(thread_store, j->dc->cfg->data_dir, t->local,
	    t->domain, size, &qr, &limit) < 0) {
		if (rs->outcome != RC_FAILED)
			rs->outcome = RC_TEMP;
		snprintf(rs->reason, sizeof(rs->reason), "4.3.0 quota check "
		    "failed");
		return false;
	}
	if (qr == QUOTA_OK)
		return true;
	if (qr == QUOTA_TOO_BIG && size > limit) {
		rs->outcome = RC_FAILED;
		snprintf(rs->reason, sizeof(rs->reason), "5.2.2 message "
		    "larger than the mailbox quota");
	} else {
		if (rs->outcome != RC_FAILED)
			rs->outcome = RC_TEMP;
		snprintf(rs->reason, sizeof(rs->reason), "4.2.2 mailbox "
		    "full (over quota)");
	}
	log_info("event=over-quota id=%s to=%s@%s size=%llu", j->env.id,
	    t->local, t->domain, (unsigned long long)size);
	return false;
}

static int
split_addr(const char *addr, char *local, size_t llen, char *domain,
    size_t dlen)
{
	const char *at = strrchr(addr, '@');

	if (at == NULL || (size_t)(at - addr) >= llen ||
	    strlen(at + 1) >= dlen)
		return -1;
	memcpy(local, addr, (size_t)(at - addr));
	local[at - addr] = '\0';
	moat_strlcpy(domain, at + 1, dlen);
	return 0;
}

static void
add_remote(struct djob *j, size_t rcpt, const char *local,
    const char *domain)
{
	char addr[DELIVERY_LOCAL_MAX + 258];

	snprintf(addr, sizeof(addr), "%s@%s", local, domain);
	j->remote = xreallocarray(j->remote, j->nremote + 1, sizeof(char *));
	j->remote_of = xreallocarray(j->remote_of, j->nremote + 1,
	    sizeof(size_t));
	j->remote[j->nremote] = xstrdup(addr);
	j->remote_of[j->nremote] = rcpt;
	j->nremote++;
	j->rs[rcpt].nremote++;
}

/* Local copies for one recipient; remote targets are collected. */
static void
deliver_rcpt(struct djob *j, size_t idx)
{
	const struct config *cfg = j->dc->cfg;
	const struct queue_envelope *env = &j->env;
	struct rcpt_state *rs = &j->rs[idx];
	struct resolve_ctx rc = { NULL, 0, false };
	char local[DELIVERY_LOCAL_MAX], domain[256], path[4096], name[512];
	char hdr[1024];
	struct iovec iov[2];
	size_t i;
	int n;

	rs->outcome = RC_DONE;
	if (split_addr(env->rcpts[idx], local, sizeof(local), domain,
	    sizeof(domain)) < 0) {
		rs->outcome = RC_FAILED;
		snprintf(rs->reason, sizeof(rs->reason), "5.1.3 bad "
		    "recipient address");
		return;
	}
	/* A list address: the list makes its own copies (list_expand.h). */
	switch (list_deliver(thread_store, cfg, env, j->data.data + j->off,
	    j->data.len - j->off, local, domain, rs->reason,
	    sizeof(rs->reason))) {
	case LIST_NOT_LIST:
		break;
	case LIST_DONE:
		return;
	case LIST_TEMP:
		rs->outcome = RC_TEMP;
		return;
	case LIST_FAILED:
		rs->outcome = RC_FAILED;
		return;
	}
	n = store_resolve(thread_store, local, domain, collect_target, &rc);
	if (n < 0) {
		rs->outcome = RC_TEMP;
		snprintf(rs->reason, sizeof(rs->reason), "4.3.0 database "
		    "lookup failed");
		free(rc.targets);
		return;
	}
	if (n == 0 || rc.ntargets == 0) {
		rs->outcome = RC_FAILED;
		snprintf(rs->reason, sizeof(rs->reason), "5.1.1 no such user "
		    "here");
		free(rc.targets);
		return;
	}
	for (i = 0; i < rc.ntargets; i++) {
		const struct target *t = &rc.targets[i];
		enum maildir_result mr;

		if (!t->account) {
			/* An alias of ours sending on: we are a forwarder. */
			if (j->forward_domain[0] == '\0' &&
			    (strcmp(t->domain, domain) != 0 ||
			    strcmp(t->local, local) != 0))
				moat_strlcpy(j->forward_domain, domain,
				    sizeof(j->forward_domain));
			add_remote(j, idx, t->local, t->domain);
			continue;
		}
		if (maildir_path(cfg->data_dir, t->domain, t->local, path,
		    sizeof(path)) < 0 || (env->junk && moat_strlcat(path,
		    "/.Junk", sizeof(path)) >= sizeof(path)) ||
		    maildir_name(env->time, env->id, cfg->hostname, name,
		    sizeof(name)) < 0) {
			rs->outcome = RC_FAILED;
			snprintf(rs->reason, sizeof(rs->reason), "5.1.3 bad "
			    "mailbox name");
			continue;
		}
		n = snprintf(hdr, sizeof(hdr), "Return-Path: <%s>\r\n"
		    "Delivered-To: %s@%s\r\n", env->from, t->local,
		    t->domain);
		if (n < 0 || (size_t)n >= sizeof(hdr))
			n = snprintf(hdr, sizeof(hdr), "Return-Path: <>\r\n");
		iov[0].iov_base = hdr;
		iov[0].iov_len = (size_t)n;
		iov[1].iov_base = j->data.data + j->off;
		iov[1].iov_len = j->data.len - j->off;
		/* A retry (after a deferral or a crash) may find the file an
		 * earlier attempt wrote: delivered, whatever the quota says
		 * now. Anything else is counted against it, retries too. */
		if (!(j->recovered && maildir_has(path, name, true)) &&
		    !quota_allows(j, rs, t, (uint64_t)n + iov[1].iov_len))
			continue;
		mr = maildir_deliver(path, name, iov, 2, j->recovered);
		if (mr == MAILDIR_ERROR) {
			bool perm = errno == EINVAL;

			if (rs->outcome != RC_FAILED)
				rs->outcome = perm ? RC_FAILED : RC_TEMP;
			snprintf(rs->reason, sizeof(rs->reason), "%s maildir "
			    "write failed: %s", perm ? "5.2.0" : "4.2.0",
			    strerror(errno));
			continue;
		}
		/* new/ must be on disk before the queue forgets the message. */
		snprintf(path + strlen(path), sizeof(path) - strlen(path),
		    "/new");
		if (fsync_dir(path) < 0) {
			if (rs->outcome != RC_FAILED)
				rs->outcome = RC_TEMP;
			snprintf(rs->reason, sizeof(rs->reason), "4.2.0 "
			    "fsync failed: %s", strerror(errno));
			continue;
		}
		log_info("event=delivered id=%s to=%s@%s%s", env->id, t->local,
		    t->domain, mr == MAILDIR_ALREADY ? " duplicate=skipped" :
		    "");
	}
	free(rc.targets);
}

/* The domain of the From: header (lower case), or "" when there is not
 * exactly one usable address. */
static void
from_domain(const uint8_t *msg, size_t len, char *out, size_t outlen)
{
	struct mime_message *m;
	const struct mime_header *h;
	struct mime_addr *a;

	out[0] = '\0';
	m = mime_parse(msg, len < DELIVERY_HEADER_SCAN ? len :
	    DELIVERY_HEADER_SCAN);
	h = mime_header_find(m->root, "From");
	if (h != NULL && (a = mime_addr_parse(h->value, h->value_len)) !=
	    NULL) {
		if (a->next == NULL && a->host != NULL) {
			moat_strlcpy(out, a->host, outlen);
			ascii_lower(out);
		}
		mime_addr_free(&a);
	}
	mime_message_free(&m);
}

/* Mail from our domains leaves signed with every enabled key of the From:
 * domain (an RSA and an Ed25519 key give two signatures). Keys are read
 * per message, so a new or disabled key counts from the next one on. */
static void sign_dkim(struct djob *j);
static void seal_arc(struct djob *j);

static void
sign_outbound(struct djob *j)
{
	sign_dkim(j);
	if (j->forward_domain[0] != '\0')
		seal_arc(j);
}

/* Forwarded mail (an alias of ours with remote targets) gets an ARC set
 * sealed with the alias domain's RSA key, so the next receiver can trust
 * the results we saw before we changed the envelope (RFC 8617). */
static void
seal_arc(struct djob *j)
{
	const uint8_t *msg = j->signed_msg.len ? j->signed_msg.data :
	    j->data.data + j->off;
	size_t len = j->signed_msg.len ? j->signed_msg.len :
	    j->data.len - j->off;
	struct authn_keys k;
	const struct dkim_signer *rsa;
	char ar[AUTHRES_VALUE_MAX], who[QUEUE_ID_LEN + 8];
	const char *error = NULL;
	enum arc_status cv;
	unsigned instance;
	struct buf out;
	int r;

	snprintf(who, sizeof(who), "id=%s", j->id);
	if (authn_keys_load(thread_store, j->forward_domain, &k, who) < 0)
		return;
	if ((rsa = authn_keys_rsa(&k)) == NULL)
		goto out;
	authn_our_ar(msg, len, j->dc->cfg->hostname, ar, sizeof(ar));
	if (ar[0] == '\0')
		snprintf(ar, sizeof(ar), "%s; none", j->dc->cfg->hostname);
	buf_init(&out, 0);
	r = authn_arc_seal(thread_store, rsa, msg, len, ar, &out, &instance,
	    &cv, &error);
	if (r == 0 && buf_append(&out, msg, len) == 0) {
		buf_deinit(&j->signed_msg);
		j->signed_msg = out;
		log_info("event=arc-sealed id=%s domain=%s instance=%u cv=%s",
		    j->id, j->forward_domain, instance, arc_status_name(cv));
	} else {
		if (r < 0)
			log_warnx("event=arc-seal-failed id=%s error=\"%s\"",
			    j->id, error ? error : "out of room");
		buf_deinit(&out);
	}
out:
	authn_keys_free(&k);
}

/* Does a DKIM-Signature with d=domain sit above our own Authentication-
 * Results (added here after reception, not by the sender)? A list copy
 * leaves list_auth signed by the list domain: it is not signed twice. */
static bool
signed_here(const uint8_t *msg, size_t len, const char *domain,
    const char *host)
{
	struct mime_message *m = mime_parse(msg, len < DELIVERY_HEADER_SCAN ?
	    len : DELIVERY_HEADER_SCAN);
	size_t i, hl = strlen(host), dl = strlen(domain);
	bool found = false;

	for (i = 0; i < m->root->nheaders && !found; i++) {
		const struct mime_header *h = &m->root->headers[i];
		const char *v = (const char *)h->value, *end = v + h->value_len;

		if (h->name_len == 22 && ascii_nieq((const char *)h->name,
		    "Authentication-Results", 22) && h->value_len > hl &&
		    ascii_nieq(v, host, hl) && (v[hl] == ';' || v[hl] == ' '))
			break;
		if (h->name_len != 14 || !ascii_nieq((const char *)h->name,
		    "DKIM-Signature", 14))
			continue;
		for (; v < end && !found; v++)	/* the d= tag's value */
			if ((v == (const char *)h->value || v[-1] == ';' ||
			    v[-1] == ' ' || v[-1] == '\t' || v[-1] == '\n') &&
			    v[0] == 'd' && end - v > 2 && v[1] == '=')
				found = (size_t)(end - v - 2) >= dl &&
				    ascii_nieq(v + 2, domain, dl) &&
				    (v + 2 + dl == end || v[2 + dl] == ';' ||
				    v[2 + dl] == ' ' || v[2 + dl] == '\r');
	}
	mime_message_free(&m);
	return found;
}

static void
sign_dkim(struct djob *j)
{
	const uint8_t *msg = j->data.data + j->off;
	size_t len = j->data.len - j->off;
	struct authn_keys k;
	char domain[256], who[QUEUE_ID_LEN + 8];
	const char *error = NULL;

	from_domain(msg, len, domain, sizeof(domain));
	snprintf(who, sizeof(who), "id=%s", j->id);
	if (domain[0] == '\0' || signed_here(msg, len, domain,
	    j->dc->cfg->hostname) || authn_keys_load(thread_store, domain, &k,
	    who) < 0)
		return;
	if (k.n == 0)
		goto out;
	buf_init(&j->signed_msg, 0);
	if (dkim_sign_message(k.s, k.n, msg, len, time(NULL),
	    &j->signed_msg, &error) < 0 ||
	    buf_append(&j->signed_msg, msg, len) < 0) {
		log_warnx("event=dkim-sign-failed id=%s domain=%s error=\"%s\"",
		    j->id, domain, error ? error : "out of room");
		buf_deinit(&j->signed_msg);
	} else {
		log_info("event=dkim-signed id=%s domain=%s signatures=%zu",
		    j->id, domain, k.n);
	}
out:
	authn_keys_free(&k);
}

static void
local_work(uv_work_t *w)
{
	struct djob *j = w->data;
	const struct config *cfg = j->dc->cfg;
	const char *error = NULL;
	bool frozen = false;
	size_t i;

	if ((thread_store = store_thread(cfg->data_dir, &error)) == NULL) {
		snprintf(j->out.error, sizeof(j->out.error), "database: %s",
		    error);
		return;
	}
	if (queue_read(cfg->data_dir, j->id, cfg->message_size +
	    QUEUE_ENVELOPE_MAX + 65536, &j->data) < 0) {
		if (errno == ENOENT)
			j->out.finished = true;	/* deleted meanwhile */
		else
			snprintf(j->out.error, sizeof(j->out.error), "read: "
			    "%s", strerror(errno));
		return;
	}
	if (queue_envelope_parse(j->data.data, j->data.len, &j->env, &j->off,
	    &error) < 0) {
		snprintf(j->out.error, sizeof(j->out.error), "corrupt queue "
		    "file: %s", error);
		j->out.attempts = 1000;	/* keep it for the admin */
		buf_deinit(&j->data);
		return;
	}
	if (j->env.quarantine != NULL) {
		/* A filter held it at reception: no delivery, no bounce. */
		if (quarantine_move(cfg->data_dir, j->id) < 0) {
			snprintf(j->out.error, sizeof(j->out.error),
			    "quarantine: %s", strerror(errno));
		} else {
			log_info("event=quarantined id=%s reason=\"%.200s\"",
			    j->id, j->env.quarantine);
			j->out.finished = true;
		}
		queue_envelope_free(&j->env);
		buf_deinit(&j->data);
		return;
	}
	if (queue_state_load(cfg->data_dir, j->id, j->env.nrcpts,
	    &j->st) < 0) {
		snprintf(j->out.error, sizeof(j->out.error), "state: %s",
		    strerror(errno));
		queue_envelope_free(&j->env);
		buf_deinit(&j->data);
		return;
	}
	if (!j->st.held && j->env.auth != NULL &&
	    store_account_frozen(thread_store, j->env.auth, &frozen, NULL,
	    0) == 0 && frozen) {
		/* Hijack detection froze the sender: nothing it queued
		 * leaves until an admin releases it. */
		if (queue_state_hold(cfg->data_dir, j->id, true) == 0)
			j->st.held = true;
		log_info("event=held id=%s reason=\"account %s frozen\"",
		    j->id, j->env.auth);
	}
	if (j->st.held) {
		/* Not an attempt: the admin holds it (moatctl queue). */
		moat_strlcpy(j->out.error, "held by the administrator",
		    sizeof(j->out.error));
		j->out.held = true;
		queue_state_free(&j->st);
		queue_envelope_free(&j->env);
		buf_deinit(&j->data);
		return;
	}
	j->loaded = true;
	/* Archived before the first delivery, once per domain; a retry
	 * finds it there already. */
	archive_message(cfg, thread_store, &j->env, j->data.data + j->off,
	    j->data.len - j->off);
	j->rs = xcalloc(j->env.nrcpts ? j->env.nrcpts : 1, sizeof(*j->rs));
	for (i = 0; i < j->env.nrcpts; i++)
		if (j->st.status[i] == QUEUE_RCPT_PENDING)
			deliver_rcpt(j, i);
	if (j->nremote > 0)
		sign_outbound(j);
}

/* ---- finishing ---------------------------------------------------------- */

static void
collect_bounces(struct djob *j, enum rcpt_outcome want, bool expired,
    struct bounce_rcpt **out, size_t *n)
{
	size_t i;

	*out = xcalloc(j->env.nrcpts ? j->env.nrcpts : 1, sizeof(**out));
	*n = 0;
	for (i = 0; i < j->env.nrcpts; i++) {
		struct rcpt_state *rs = &j->rs[i];
		struct bounce_rcpt *b;
		char *status;

		if (rs->outcome != want)
			continue;
		b = &(*out)[(*n)++];
		status = xmalloc(16);
		bounce_status_from_text(rs->reason, want == RC_FAILED &&
		    !expired, status);
		if (expired)
			memcpy(status, "4.4.7", 6);
		b->rcpt = j->env.rcpts[i];
		b->status = status;
		b->diag = rs->reason;
		b->remote_mta = rs->remote_mta;
	}
}

static void
free_bounces(struct bounce_rcpt *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free((char *)b[i].status);
	free(b);
}

static void
send_dsn(struct djob *j, enum rcpt_outcome want, bool delayed, bool expired)
{
	const struct config *cfg = j->dc->cfg;
	struct bounce_rcpt *b;
	char qid[QUEUE_ID_LEN + 1];
	size_t n;
	int r;

	collect_bounces(j, want, expired, &b, &n);
	if (n > 0) {
		r = bounce_enqueue(cfg->data_dir, cfg->hostname, &j->env,
		    j->data.data + j->off, j->data.len - j->off, b, n,
		    delayed, qid);
		if (r == 0)
			log_info("event=dsn id=%s dsn=%s type=%s to=<%s> "
			    "nrcpt=%zu", j->env.id, qid, delayed ? "delay" :
			    "failure", j->env.from, n);
		else if (r < 0)
			log_warn("event=dsn-failed id=%s", j->env.id);
	}
	free_bounces(b, n);
}

static void
finish_work(uv_work_t *w)
{
	struct djob *j = w->data;
	const struct config *cfg = j->dc->cfg;
	time_t now = time(NULL), age = now - j->env.time;
	bool pending = false, expired;
	size_t i;

	j->out.attempts = j->st.attempts + 1;
	/* Merge the remote results into their recipients. */
	for (i = 0; i < j->nremote; i++) {
		const struct smtp_client_result *r = &j->results[i];
		struct rcpt_state *rs = &j->rs[j->remote_of[i]];

		if (r->code / 100 == 2)
			continue;
		if (r->perm && rs->outcome != RC_TEMP) {
			rs->outcome = RC_FAILED;
		} else if (rs->outcome != RC_FAILED) {
			rs->outcome = RC_TEMP;
		}
		snprintf(rs->reason, sizeof(rs->reason), "%s", r->text);
		if (j->mta != NULL)
			moat_strlcpy(rs->remote_mta, j->mta[i],
			    sizeof(rs->remote_mta));
	}
	expired = age >= (time_t)cfg->bounce_after;
	for (i = 0; i < j->env.nrcpts; i++) {
		struct rcpt_state *rs = &j->rs[i];

		if (rs->outcome == RC_TEMP && expired) {
			char why[256];

			snprintf(why, sizeof(why), "message expired after %lld "
			    "hours in the queue; last error: %.150s",
			    (long long)(age / 3600), rs->reason);
			moat_strlcpy(rs->reason, why, sizeof(rs->reason));
			rs->outcome = RC_FAILED;
		}
		if (rs->outcome == RC_FAILED)
			log_warnx("event=bounced id=%s rcpt=%s reason=\"%s\"",
			    j->env.id, j->env.rcpts[i], rs->reason);
		if (rs->outcome == RC_TEMP) {
			pending = true;
			moat_strlcpy(j->out.error, rs->reason,
			    sizeof(j->out.error));
		}
	}
	send_dsn(j, RC_FAILED, false, false);
	if (pending && cfg->delay_warning > 0 && !j->st.warned &&
	    age >= (time_t)cfg->delay_warning) {
		send_dsn(j, RC_TEMP, true, false);
		if (queue_state_warned(cfg->data_dir, j->id) < 0)
			log_warn("event=state-write-failed id=%s", j->id);
	}
	if (!pending) {
		if (queue_remove(cfg->data_dir, j->id) < 0 && errno != ENOENT)
			log_warn("event=queue-remove-failed id=%s", j->id);
		j->out.finished = true;
		return;
	}
	/* Progress is written only when the message stays queued. */
	for (i = 0; i < j->env.nrcpts; i++) {
		enum rcpt_outcome o = j->rs[i].outcome;

		if ((o == RC_DONE || o == RC_FAILED) && queue_state_mark(
		    cfg->data_dir, j->id, i, o == RC_DONE ? QUEUE_RCPT_DONE :
		    QUEUE_RCPT_FAILED, j->rs[i].reason) < 0)
			log_warn("event=state-write-failed id=%s", j->id);
	}
}

static void
djob_free(struct djob *j)
{
	size_t i;

	if (j->loaded) {
		queue_envelope_free(&j->env);
		queue_state_free(&j->st);
	}
	buf_deinit(&j->data);
	buf_deinit(&j->signed_msg);
	for (i = 0; i < j->nremote; i++)
		free(j->remote[i]);
	free(j->remote);
	free(j->remote_of);
	free(j->results);
	free(j->mta);
	free(j->rs);
	free(j);
}

static void
finish_done(uv_work_t *w, int status)
{
	struct djob *j = w->data;

	if (status < 0 && !j->out.finished && j->out.error[0] == '\0')
		moat_strlcpy(j->out.error, "cancelled", sizeof(j->out.error));
	j->cb(j->arg, &j->out);
	djob_free(j);
}

static void
start_finish(struct djob *j)
{
	if (uv_queue_work(j->dc->loop, &j->work, finish_work,
	    finish_done) != 0)
		fatalx("uv_queue_work failed");
}

static void
remote_done(struct outbound_job *ob)
{
	start_finish(ob->ctx);
}

static void
local_done(uv_work_t *w, int status)
{
	struct djob *j = w->data;

	if (status < 0 || !j->loaded) {
		if (status < 0 && j->out.error[0] == '\0')
			moat_strlcpy(j->out.error, "cancelled",
			    sizeof(j->out.error));
		j->out.attempts = j->out.attempts ? j->out.attempts : 1;
		j->cb(j->arg, &j->out);
		djob_free(j);
		return;
	}
	if (j->nremote == 0) {
		start_finish(j);
		return;
	}
	j->results = xcalloc(j->nremote, sizeof(*j->results));
	j->mta = xcalloc(j->nremote, sizeof(*j->mta));
	j->ob.id = j->id;
	j->ob.from = j->env.from;
	j->ob.rcpts = (const char *const *)j->remote;
	j->ob.nrcpts = j->nremote;
	j->ob.results = j->results;
	j->ob.remote_mta = j->mta;
	if (j->signed_msg.len > 0) {
		j->ob.data = j->signed_msg.data;
		j->ob.len = j->signed_msg.len;
	} else {
		j->ob.data = j->data.data + j->off;
		j->ob.len = j->data.len - j->off;
	}
	j->ob.eightbit = j->env.eightbit;
	j->ob.smtputf8 = j->env.smtputf8;
	j->ob.done = remote_done;
	j->ob.ctx = j;
	outbound_submit(j->dc->outbound, &j->ob);
}

void
delivery_start(struct delivery_ctx *dc, const char *id, bool recovered,
    delivery_cb *cb, void *arg)
{
	struct djob *j = xcalloc(1, sizeof(*j));

	j->dc = dc;
	moat_strlcpy(j->id, id, sizeof(j->id));
	j->recovered = recovered;
	j->cb = cb;
	j->arg = arg;
	buf_init(&j->data, 0);
	j->work.data = j;
	if (uv_queue_work(dc->loop, &j->work, local_work, local_done) != 0)
		fatalx("uv_queue_work failed");
}
