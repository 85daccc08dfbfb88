/* imap_cmd_quota: QUOTA (RFC 9208) over the per-account quota of
 * quota.h. Every folder of an account shares one quota root, "" (the
 * account); its one resource is STORAGE (units of 1024 octets, the
 * Maildir's files as quota_usage() measures them). An account without a
 * quota has no quota root. SETQUOTA is refused (NO [NOPERM]): quotas
 * are set by the administrator with moatctl. APPEND checks the quota
 * too (NO [OVERQUOTA], imap_quota_allows()). */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "quota.h"
#include "store.h"

#include "imap_session_private.h"

#define QUOTA_ROOT	""	/* the account */

/* The account's limit (0: none) and usage. Returns 0, or -1. */
static int
quota_get(struct imap_session *s, uint64_t *limit_r, struct quota_usage *u)
{
	const char *e = NULL;

	if (store_account_quota(s->srv->store, s->user, limit_r, &e) < 0 ||
	    quota_usage(s->maildir, u) < 0) {
		log_warnx("imap session=%s event=quota-failed error=\"%s\"",
		    s->base.id, e ? e : "usage");
		return -1;
	}
	return 0;
}

static void
quota_line(struct imap_session *s, uint64_t limit,
    const struct quota_usage *u)
{
	conn_printf(s->base.conn, "* QUOTA \"%s\" (STORAGE %llu %llu)\r\n",
	    QUOTA_ROOT, (unsigned long long)((u->bytes + 1023) / 1024),
	    (unsigned long long)(limit / 1024));
}

void
imap_cmd_getquota(struct imap_session *s, struct imap_command *c)
{
	struct imap_parse_error err;
	struct imap_slice root;
	struct quota_usage u;
	uint64_t limit;

	if (imap_parse_getquota(c, &root, &err) < 0) {
		imap_parse_failed(s, &err);
		return;
	}
	if (quota_get(s, &limit, &u) < 0) {
		imap_tagged(s, "NO", "UNAVAILABLE", "Cannot read the quota");
		return;
	}
	if (root.len != 0 || limit == 0) {
		imap_tagged(s, "NO", "NONEXISTENT", "No such quota root");
		return;
	}
	quota_line(s, limit, &u);
	imap_tagged(s, "OK", NULL, "GETQUOTA completed");
}

void
imap_cmd_getquotaroot(struct imap_session *s, struct imap_command *c)
{
	struct imap_parse_error err;
	struct imap_mailbox mb;
	struct quota_usage u;
	char folder[IMAP_NAME_MAX + 1];
	const char *e = NULL;
	uint64_t limit;

	if (imap_parse_mailbox_cmd(c, &mb, &err) < 0) {
		imap_parse_failed(s, &err);
		return;
	}
	if (imap_folder_from_client(s, &mb, folder, sizeof(folder), &e) < 0) {
		imap_tagged(s, "NO", "CANNOT", "%s", e);
		return;
	}
	if (!imap_folder_exists(s, folder)) {
		imap_tagged(s, "NO", "NONEXISTENT", "No such mailbox");
		return;
	}
	if (quota_get(s, &limit, &u) < 0) {
		imap_tagged(s, "NO", "UNAVAILABLE", "Cannot read the quota");
		return;
	}
	/* The mailbox name as the client sent it (it is valid). */
	conn_printf(s->base.conn, "* QUOTAROOT ");
	if (mb.inbox)
		conn_printf(s->base.conn, "INBOX");
	else
		conn_printf(s->base.conn, "{%zu+}\r\n%.*s", mb.name.len,
		    (int)mb.name.len, (const char *)mb.name.p);
	if (limit > 0)
		conn_printf(s->base.conn, " \"%s\"\r\n", QUOTA_ROOT);
	else
		conn_printf(s->base.conn, "\r\n");
	if (limit > 0)
		quota_line(s, limit, &u);
	imap_tagged(s, "OK", NULL, "GETQUOTAROOT completed");
}

void
imap_cmd_setquota(struct imap_session *s, struct imap_command *c)
{
	struct imap_parse_error err;
	struct imap_setquota sq;

	if (imap_parse_setquota(s->parser, c, &sq, &err) < 0) {
		imap_parse_failed(s, &err);
		return;
	}
	imap_tagged(s, "NO", "NOPERM", "Quotas are set by the administrator");
}

bool
imap_quota_allows(struct imap_session *s, uint64_t size)
{
	struct quota_usage u;
	uint64_t limit;

	if (quota_get(s, &limit, &u) < 0)
		return true;	/* delivery-side checks still apply */
	return limit == 0 || (!u.truncated && u.bytes < limit &&
	    size <= limit - u.bytes);
}
