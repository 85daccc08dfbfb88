/* fuzz_imap_parser: libFuzzer target for imap_parser*.c. The first input
 * octet picks the limits (literal mode, tiny line/depth/argument limits to
 * reach their edges) and the feeding chunk size; the rest is a client byte
 * stream fed incrementally, the way a session would, through exactly
 * sized copies. Every command then goes through every helper grammar
 * whatever its name, and every string argument through the modified
 * UTF-7 conversions, whose round trips must be exact. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "imap_parser.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_err(const struct imap_parse_error *err)
{
	if (err->code <= IMAP_PERR_NONE || err->code >= IMAP_PERR_COUNT ||
	    err->reason == NULL)
		abort();
}

static void
check_mutf7(struct imap_slice s)
{
	struct buf a, b;
	const char *e;

	buf_init(&a, 4096);
	buf_init(&b, 4096);
	if (imap_mutf7_to_utf8(s.p, s.len, &a, &e) == 0) {
		if (!imap_utf8_valid(a.data, a.len))
			abort();
		/* strict decoding accepts only canonical encodings */
		if (imap_utf8_to_mutf7(a.data, a.len, &b, &e) == 0 &&
		    (b.len != s.len || (s.len > 0 &&
		    memcmp(b.data, s.p, s.len) != 0)))
			abort();
	}
	buf_reset(&a);
	buf_reset(&b);
	if (imap_utf8_to_mutf7(s.p, s.len, &a, &e) == 0) {
		if (imap_mutf7_to_utf8(a.data, a.len, &b, &e) < 0)
			abort();
		if (b.len != s.len || (s.len > 0 &&
		    memcmp(b.data, s.p, s.len) != 0))
			abort();
	}
	buf_deinit(&a);
	buf_deinit(&b);
}

static void
walk(struct imap_parser *p, const struct imap_arg *a, unsigned depth)
{
	struct imap_parse_error err;
	struct imap_seqset set;
	struct imap_flags fl;
	struct imap_datetime dt;
	struct imap_mailbox mb;
	unsigned items;
	size_t n;

	for (; a != NULL; a = a->next) {
		if (depth > IMAP_DEPTH_MAX + 1)
			abort();
		if (imap_parse_seqset(p, a, true, &set, &err) == 0) {
			for (n = 0; n < set.count; n++)
				if (set.ranges[n].lo > set.ranges[n].hi ||
				    set.ranges[n].lo == 0)
					abort();
		} else {
			check_err(&err);
		}
		if (imap_parse_flag_list(p, a, &fl, &err) < 0)
			check_err(&err);
		if (imap_parse_status_items(a, &items, &err) < 0)
			check_err(&err);
		if (imap_parse_date(a, &dt) == 0 &&
		    (dt.month < 1 || dt.month > 12))
			abort();
		(void)imap_parse_datetime(a, &dt);
		if (imap_parse_mailbox(a, &mb, &err) < 0)
			check_err(&err);
		if (a->type == IMAP_ARG_LIST) {
			n = 0;
			for (const struct imap_arg *c = a->list; c != NULL;
			    c = c->next)
				n++;
			if (n != a->count)
				abort();
			walk(p, a->list, depth + 1);
		} else if (a->section != NULL) {
			walk(p, a->section->list, depth + 1);
		} else {
			check_mutf7(a->str);
		}
	}
}

static void
helpers(struct imap_parser *p, struct imap_command *cmd)
{
	struct imap_parse_error err;
	union {
		struct imap_login	lo;
		struct imap_authenticate au;
		struct imap_enable	en;
		struct imap_id		id;
		struct imap_create	cr;
		struct imap_mailbox	mb;
		struct imap_rename	rn;
		struct imap_select	se;
		struct imap_status	st;
		struct imap_append	ap;
		struct imap_list	li;
		struct imap_copy	cp;
		struct imap_seqset	set;
		struct imap_slice	root;
		struct imap_setquota	sq;
		struct imap_fetch	fe;
		struct imap_store	so;
		struct imap_search	sr;
		struct imap_sort	srt;
		struct imap_thread	th;
	} u;
	enum imap_cmd saved = cmd->cmd;
	int r[24], i = 0, k;

	walk(p, cmd->args, 0);
	r[i++] = imap_parse_no_args(cmd, &err);
	r[i++] = imap_parse_login(cmd, &u.lo, &err);
	r[i++] = imap_parse_authenticate(cmd, &u.au, &err);
	r[i++] = imap_parse_enable(p, cmd, &u.en, &err);
	r[i++] = imap_parse_id(p, cmd, &u.id, &err);
	r[i++] = imap_parse_create(p, cmd, &u.cr, &err);
	r[i++] = imap_parse_mailbox_cmd(cmd, &u.mb, &err);
	r[i++] = imap_parse_rename(cmd, &u.rn, &err);
	r[i++] = imap_parse_select(p, cmd, &u.se, &err);
	r[i++] = imap_parse_status(cmd, &u.st, &err);
	r[i++] = imap_parse_append(p, cmd, &u.ap, &err);
	if (r[i - 1] == 0 && !u.ap.binary && u.ap.data.len > 0 &&
	    memchr(u.ap.data.p, '\0', u.ap.data.len) != NULL)
		abort();
	r[i++] = imap_parse_list(p, cmd, &u.li, &err);
	cmd->cmd = IMAP_CMD_LSUB;
	r[i++] = imap_parse_list(p, cmd, &u.li, &err);
	cmd->cmd = IMAP_CMD_UID_FETCH;
	r[i++] = imap_parse_fetch(p, cmd, &u.fe, &err);
	cmd->cmd = saved;
	r[i++] = imap_parse_fetch(p, cmd, &u.fe, &err);
	r[i++] = imap_parse_copy(p, cmd, &u.cp, &err);
	r[i++] = imap_parse_uid_expunge(p, cmd, &u.set, &err);
	r[i++] = imap_parse_getquota(cmd, &u.root, &err);
	r[i++] = imap_parse_setquota(p, cmd, &u.sq, &err);
	r[i++] = imap_parse_store(p, cmd, &u.so, &err);
	r[i++] = imap_parse_search(p, cmd, &u.sr, &err);
	if (r[i - 1] == 0 && (u.sr.root == NULL || u.sr.root->child == NULL))
		abort();
	r[i++] = imap_parse_sort(p, cmd, &u.srt, &err);
	r[i++] = imap_parse_thread(p, cmd, &u.th, &err);
	for (k = 0; k < i; k++)
		if (r[k] != 0 && r[k] != -1)
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imap_limits l;
	struct imap_parser *p;
	size_t base = 0, avail, chunk;
	uint8_t mode;

	if (size == 0)
		return 0;
	mode = data[0];
	data++;
	size--;
	imap_limits_auth(&l, 1 << 20);
	l.literal_mode = (enum imap_literal_mode)(mode % 3);
	if (mode & 0x04) {
		l.max_line = 8 + (mode >> 3);
		l.max_literal = mode >> 2;
		l.max_depth = 1 + (mode >> 5);
		l.max_args = 2 + (mode >> 4);
		l.max_ranges = 1 + (mode >> 5);
	}
	chunk = (mode & 0x08) ? 1 : 1 + (mode >> 4) * 7;
	p = imap_parser_new(&l);
	avail = chunk;
	while (base < size) {
		struct imap_command cmd;
		struct imap_parse_result res;
		size_t len = size - base < avail ? size - base : avail;
		uint8_t *copy = malloc(len > 0 ? len : 1);
		int r;

		if (copy == NULL)
			abort();
		memcpy(copy, data + base, len);
		r = imap_parser_parse(p, copy, len, &cmd, &res);
		if (r == 1) {
			if (res.consumed == 0 || res.consumed > len ||
			    cmd.tag.len == 0 || cmd.cmd == IMAP_CMD_UNKNOWN ||
			    cmd.tag.p != copy || imap_cmd_name(cmd.cmd) == NULL)
				abort();
			helpers(p, &cmd);
			base += res.consumed;
			avail = chunk;
		} else if (r == -1) {
			check_err(&res.err);
			if (res.consumed == 0 || res.consumed > len)
				abort();
			(void)imap_perr_resp_code(res.err.code);
			if (res.err.close) {
				free(copy);
				break;
			}
			base += res.consumed;
			avail = chunk;
		} else if (r == 0) {
			if (res.consumed > len)
				abort();
			if (res.consumed > 0) {
				base += res.consumed;
				avail = chunk;
			} else if (len == size - base) {
				free(copy);
				break;
			} else {
				avail += chunk;
			}
		} else {
			abort();
		}
		free(copy);
	}
	imap_parser_free(&p);
	return 0;
}
