/* imap_parser: the pure IMAP command parser (no I/O). A resumable framer
 * recognises one complete command in a bounded input buffer, literals
 * included (RFC 9051 4.3, LITERAL+/- RFC 7888, literal8 RFC 3516), and
 * builds a generic argument tree of slices; helpers then parse the grammar
 * of each command on top of that tree (FETCH, STORE, SEARCH, SELECT,
 * STATUS, APPEND, LIST, SORT, THREAD, ENABLE, ID, AUTHENTICATE, LOGIN,
 * QUOTA, ...), and convert mailbox names between modified UTF-7 (RFC 3501
 * 5.1.3) and UTF-8 (RFC 9051 5.1). */
#ifndef MOAT_IMAP_PARSER_H
#define MOAT_IMAP_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* Limits. RFC 7162 section 4 asks servers to take lines of at least 8192
 * octets; pre-auth we stop there, post-auth we allow more (Dovecot:
 * imap_max_line_length = 64k). */
#define IMAP_LINE_MAX_PREAUTH		8192
#define IMAP_LINE_MAX_AUTH		65536
#define IMAP_LITERAL_MAX_PREAUTH	(64 * 1024)
#define IMAP_LITERAL_MINUS_MAX		4096	/* RFC 7888 section 5 */
#define IMAP_DEPTH_MAX			32
#define IMAP_ARGS_MAX_PREAUTH		64
#define IMAP_ARGS_MAX_AUTH		8192
#define IMAP_RANGES_MAX			4096
#define IMAP_SECTION_PARTS_MAX		32
#define IMAP_ID_PAIRS_MAX		30	/* RFC 2971 section 3.3 */
#define IMAP_ID_FIELD_MAX		30
#define IMAP_ID_VALUE_MAX		1024
#define IMAP_NUMBER64_MAX		UINT64_C(9223372036854775807)

enum imap_literal_mode {
	IMAP_LITERAL_SYNC_ONLY = 0,	/* {n+} is refused */
	IMAP_LITERAL_PLUS,		/* RFC 7888 LITERAL+ */
	IMAP_LITERAL_MINUS,		/* RFC 7888 LITERAL-: {n+} <= 4096 */
};

struct imap_limits {
	size_t			max_line;	/* octets outside literals,
						   CRLFs included */
	uint64_t		max_literal;	/* one literal's data */
	uint64_t		max_command;	/* whole command, literals
						   included; 0: line+literal */
	unsigned		max_depth;	/* list/section/search nesting */
	unsigned		max_args;	/* nodes in the argument tree */
	unsigned		max_ranges;	/* in one sequence set */
	enum imap_literal_mode	literal_mode;
};

/* Tight limits for the not-authenticated state, and the usual ones after
 * login with max_literal = appendlimit. */
void imap_limits_preauth(struct imap_limits *l);
void imap_limits_auth(struct imap_limits *l, uint64_t appendlimit);

struct imap_slice {
	const uint8_t	*p;
	size_t		 len;
};

enum imap_cmd {
	IMAP_CMD_UNKNOWN = 0,
	IMAP_CMD_CAPABILITY,
	IMAP_CMD_NOOP,
	IMAP_CMD_LOGOUT,
	IMAP_CMD_STARTTLS,
	IMAP_CMD_AUTHENTICATE,
	IMAP_CMD_LOGIN,
	IMAP_CMD_ENABLE,
	IMAP_CMD_ID,
	IMAP_CMD_SELECT,
	IMAP_CMD_EXAMINE,
	IMAP_CMD_CREATE,
	IMAP_CMD_DELETE,
	IMAP_CMD_RENAME,
	IMAP_CMD_SUBSCRIBE,
	IMAP_CMD_UNSUBSCRIBE,
	IMAP_CMD_LIST,
	IMAP_CMD_LSUB,
	IMAP_CMD_NAMESPACE,
	IMAP_CMD_STATUS,
	IMAP_CMD_APPEND,
	IMAP_CMD_IDLE,
	IMAP_CMD_CHECK,
	IMAP_CMD_CLOSE,
	IMAP_CMD_UNSELECT,
	IMAP_CMD_EXPUNGE,
	IMAP_CMD_SEARCH,
	IMAP_CMD_FETCH,
	IMAP_CMD_STORE,
	IMAP_CMD_COPY,
	IMAP_CMD_MOVE,
	IMAP_CMD_SORT,
	IMAP_CMD_THREAD,
	IMAP_CMD_GETQUOTA,
	IMAP_CMD_GETQUOTAROOT,
	IMAP_CMD_SETQUOTA,
	IMAP_CMD_UID_FETCH,
	IMAP_CMD_UID_STORE,
	IMAP_CMD_UID_COPY,
	IMAP_CMD_UID_MOVE,
	IMAP_CMD_UID_SEARCH,
	IMAP_CMD_UID_EXPUNGE,
	IMAP_CMD_UID_SORT,
	IMAP_CMD_UID_THREAD,
	IMAP_CMD_COUNT
};

/* "UID FETCH" etc.; NULL for IMAP_CMD_UNKNOWN and out of range. */
const char *imap_cmd_name(enum imap_cmd cmd);
/* The non-UID command of a UID form (UID_FETCH -> FETCH), else cmd. */
enum imap_cmd imap_cmd_base(enum imap_cmd cmd);
bool imap_cmd_is_uid(enum imap_cmd cmd);

enum imap_arg_type {
	IMAP_ARG_ATOM = 1,	/* also flags (\Seen), sequence sets, patterns */
	IMAP_ARG_NUMBER,	/* all digits, <= IMAP_NUMBER64_MAX */
	IMAP_ARG_NIL,		/* the atom NIL, any case */
	IMAP_ARG_QUOTED,	/* str is the value, escapes removed */
	IMAP_ARG_LITERAL,	/* str is the data (literal8 may hold NULs) */
	IMAP_ARG_LIST,		/* ( ... ) */
};

struct imap_arg {
	enum imap_arg_type	 type;
	struct imap_slice	 str;	/* value; for a LIST the text inside
					   the parentheses */
	uint64_t		 num;	/* NUMBER */
	bool			 literal8;	/* ~{n} */
	bool			 nonsync;	/* {n+} */
	const struct imap_arg	*next;	/* next sibling, NULL at the end */
	const struct imap_arg	*list;	/* LIST: first child or NULL */
	size_t			 count;	/* LIST: number of children */
	/* FETCH and UID FETCH only: an atom followed by "[...]" such as
	 * BODY.PEEK[1.HEADER.FIELDS (From)]<0.10>: str is "BODY.PEEK",
	 * section the LIST of what is inside the brackets, partial the
	 * atom text after "]" ("<0.10>", may be empty). */
	const struct imap_arg	*section;
	struct imap_slice	 partial;
	/* private: indices while the tree is built */
	size_t			 i_next, i_list, i_section;
};

struct imap_command {
	struct imap_slice	 tag;
	struct imap_slice	 name;	/* as sent: "uid fetch" is the
					   second word only */
	enum imap_cmd		 cmd;
	const struct imap_arg	*args;	/* first argument or NULL */
	size_t			 argc;
	size_t			 literals;	/* how many literals */
};

enum imap_perr {
	IMAP_PERR_NONE = 0,
	IMAP_PERR_SYNTAX,		/* BAD */
	IMAP_PERR_BAD_TAG,		/* * BAD: no usable tag */
	IMAP_PERR_UNKNOWN_COMMAND,	/* tag BAD */
	IMAP_PERR_BAD_EOL,		/* bare CR or LF */
	IMAP_PERR_LINE_TOO_LONG,	/* [TOOBIG] */
	IMAP_PERR_LITERAL_TOO_BIG,	/* [TOOBIG] */
	IMAP_PERR_COMMAND_TOO_BIG,	/* [TOOBIG] */
	IMAP_PERR_NONSYNC_REFUSED,	/* {n+} without LITERAL+/- */
	IMAP_PERR_LITERAL_MINUS,	/* {n+} over 4096 under LITERAL- */
	IMAP_PERR_TOO_DEEP,		/* [LIMIT] */
	IMAP_PERR_TOO_MANY_ARGS,	/* [LIMIT] */
	IMAP_PERR_TOO_MANY_RANGES,	/* [LIMIT] */
	IMAP_PERR_COUNT
};

/* The response code for a BAD reply ("TOOBIG", "LIMIT"), or NULL. */
const char *imap_perr_resp_code(enum imap_perr code);

struct imap_parse_error {
	enum imap_perr		 code;
	const char		*reason;	/* static, printable ASCII */
	struct imap_slice	 tag;	/* len 0: unknown, answer "* BAD" */
	bool			 close;	/* cannot resynchronise (a too big
					   non-synchronizing literal is on
					   its way): send BYE and close */
};

struct imap_parse_result {
	/* 1: octets of the command (drop them once done with it);
	 * 0: octets to drop now (only while skipping a bad line);
	 * -1: octets to drop now to resynchronise. */
	size_t			 consumed;
	bool			 need_cont;	/* 0: send "+ Ready" now */
	struct imap_parse_error	 err;		/* -1 */
};

struct imap_parser;

struct imap_parser *imap_parser_new(const struct imap_limits *limits);
void imap_parser_free(struct imap_parser **p);
/* Forget any partial command (STARTTLS: input is discarded). */
void imap_parser_reset(struct imap_parser *p);
/* Takes effect with the next command (after LOGIN/AUTHENTICATE). */
void imap_parser_set_limits(struct imap_parser *p,
    const struct imap_limits *limits);
/* Look for one command in data[0..len), which must start where the
 * command starts and, between calls that return 0 with consumed 0, only
 * grow at the end (the buffer may move). Returns:
 *  1: *cmd_r is filled; its slices point into data or into the parser and
 *     stay valid until data changes or the next call;
 *  0: need more input; when res->need_cont, a synchronizing literal was
 *     announced and the server must send a continuation request now
 *     (or refuse the command instead);
 * -1: res->err says why; drop res->consumed octets and call again. */
int imap_parser_parse(struct imap_parser *p, const uint8_t *data,
    size_t len, struct imap_command *cmd_r, struct imap_parse_result *res);

/* A client line that is not a command: "DONE" after IDLE, or an
 * AUTHENTICATE response. Returns 1 with *line_r (without CRLF) and
 * *consumed_r, 0 when there is no CRLF yet and len < max, -1 on a bare
 * CR/LF or when the line is longer than max (CRLF included); then drop
 * *consumed_r (up to the next LF, or all of len). */
int imap_parse_client_line(const uint8_t *data, size_t len, size_t max,
    struct imap_slice *line_r, size_t *consumed_r);
/* idle-done = "DONE" CRLF (case-insensitive) */
bool imap_line_is_done(struct imap_slice line);

/* ---- helpers: each parses the arguments of one command ---- */

/* Memory for helper outputs belongs to the parser and stays valid until
 * the next imap_parser_parse() call that starts a new command. All helpers
 * return 0, or -1 with *err_r filled (tag from cmd). */

/* Slice equality, ASCII case-insensitive. */
bool imap_slice_ieq(struct imap_slice s, const char *lit);
/* atom/number/NIL/quoted/literal as a string value; false for a list. */
bool imap_arg_is_string(const struct imap_arg *a);
/* astring = 1*ASTRING-CHAR / string */
bool imap_arg_is_astring(const struct imap_arg *a);

/* NUL-terminated copy of a string argument into dst; -1 when it holds a
 * NUL or does not fit. */
int imap_arg_copy(const struct imap_arg *a, char *dst, size_t size);

#define IMAP_SEQ_STAR	UINT64_MAX	/* '*' */

struct imap_seq_range {
	uint64_t	lo, hi;	/* lo <= hi; hi or both may be IMAP_SEQ_STAR */
};

struct imap_seqset {
	const struct imap_seq_range	*ranges;
	size_t				 count;
	bool				 saved;	/* "$", RFC 5182 */
};

int imap_parse_seqset(struct imap_parser *p, const struct imap_arg *a,
    bool allow_saved, struct imap_seqset *out, struct imap_parse_error *err);

/* Mailbox names. */
struct imap_mailbox {
	struct imap_slice	name;	/* "INBOX" for any case of inbox */
	bool			inbox;
};

int imap_parse_mailbox(const struct imap_arg *a, struct imap_mailbox *out,
    struct imap_parse_error *err);
/* RFC 3501 5.1.3 modified UTF-7 <-> UTF-8 (RFC 9051 uses UTF-8). Strict:
 * rejects unneeded or unterminated shifts, bad base64, non-zero padding
 * bits, broken surrogates, and invalid UTF-8. Return 0, or -1 with
 * *error_r (or when out reaches its max). */
int imap_mutf7_to_utf8(const uint8_t *s, size_t len, struct buf *out,
    const char **error_r);
int imap_utf8_to_mutf7(const uint8_t *s, size_t len, struct buf *out,
    const char **error_r);
bool imap_utf8_valid(const uint8_t *s, size_t len);

/* flag-list = "(" [flag *(SP flag)] ")" ; flag = ["\"] atom */
struct imap_flags {
	const struct imap_slice	*flags;	/* as sent, "\Seen" */
	size_t			 count;
};

int imap_parse_flag_list(struct imap_parser *p, const struct imap_arg *a,
    struct imap_flags *out, struct imap_parse_error *err);
bool imap_valid_flag(struct imap_slice s);

/* No arguments (CAPABILITY NOOP LOGOUT STARTTLS IDLE CHECK CLOSE UNSELECT
 * EXPUNGE NAMESPACE). */
int imap_parse_no_args(const struct imap_command *cmd,
    struct imap_parse_error *err);

struct imap_login {
	struct imap_slice	user, password;
};
int imap_parse_login(const struct imap_command *cmd, struct imap_login *out,
    struct imap_parse_error *err);

struct imap_authenticate {
	struct imap_slice	mech;
	bool			has_ir;		/* SASL-IR */
	struct imap_slice	ir;		/* base64 text; empty for "=" */
};
int imap_parse_authenticate(const struct imap_command *cmd,
    struct imap_authenticate *out, struct imap_parse_error *err);

struct imap_enable {
	const struct imap_slice	*caps;
	size_t			 count;
};
int imap_parse_enable(struct imap_parser *p, const struct imap_command *cmd,
    struct imap_enable *out, struct imap_parse_error *err);

struct imap_id_pair {
	struct imap_slice	field;
	struct imap_slice	value;
	bool			nil;
};
struct imap_id {
	const struct imap_id_pair	*pairs;	/* NULL for "ID NIL" */
	size_t				 count;
};
int imap_parse_id(struct imap_parser *p, const struct imap_command *cmd,
    struct imap_id *out, struct imap_parse_error *err);

/* One mailbox (DELETE SUBSCRIBE UNSUBSCRIBE GETQUOTAROOT; CREATE with the
 * RFC 6154 USE parameter). */
struct imap_create {
	struct imap_mailbox	 mailbox;
	const struct imap_slice	*use;	/* special-use attributes */
	size_t			 nuse;
};
int imap_parse_create(struct imap_parser *p, const struct imap_command *cmd,
    struct imap_create *out, struct imap_parse_error *err);
int imap_parse_mailbox_cmd(const struct imap_command *cmd,
    struct imap_mailbox *out, struct imap_parse_error *err);

struct imap_rename {
	struct imap_mailbox	from, to;
};
int imap_parse_rename(const struct imap_command *cmd, struct imap_rename *out,
    struct imap_parse_error *err);

struct imap_select {
	struct imap_mailbox	mailbox;
	bool			condstore;
	bool			qresync;
	uint32_t		uidvalidity;
	uint64_t		modseq;
	bool			has_known_uids;
	struct imap_seqset	known_uids;
	bool			has_seq_match;
	struct imap_seqset	known_seqs;
	struct imap_seqset	known_seq_uids;
};
int imap_parse_select(struct imap_parser *p, const struct imap_command *cmd,
    struct imap_select *out, struct imap_parse_error *err);

enum imap_status_item {
	IMAP_STATUS_MESSAGES		= 1u << 0,
	IMAP_STATUS_UIDNEXT		= 1u << 1,
	IMAP_STATUS_UIDVALIDITY		= 1u << 2,
	IMAP_STATUS_UNSEEN		= 1u << 3,
	IMAP_STATUS_DELETED		= 1u << 4,
	IMAP_STATUS_SIZE		= 1u << 5,
	IMAP_STATUS_RECENT		= 1u << 6,
	IMAP_STATUS_HIGHESTMODSEQ	= 1u << 7,
	IMAP_STATUS_APPENDLIMIT		= 1u << 8,
};
struct imap_status {
	struct imap_mailbox	mailbox;
	unsigned		items;
};
int imap_parse_status(const struct imap_command *cmd, struct imap_status *out,
    struct imap_parse_error *err);
/* "(" status-att *(SP status-att) ")" into a mask */
int imap_parse_status_items(const struct imap_arg *a, unsigned *items_r,
    struct imap_parse_error *err);

struct imap_datetime {
	int	year, month, day;	/* month 1..12 */
	int	hour, min, sec;
	int	zone;			/* minutes east of UTC */
};

struct imap_append {
	struct imap_mailbox	mailbox;
	bool			has_flags;
	struct imap_flags	flags;
	bool			has_date;
	struct imap_datetime	date;
	struct imap_slice	data;
	bool			binary;	/* literal8: may hold NULs */
};
int imap_parse_append(struct imap_parser *p, const struct imap_command *cmd,
    struct imap_append *out, struct imap_parse_error *err);

enum imap_list_opt {
	IMAP_LIST_SUBSCRIBED		= 1u << 0,
	IMAP_LIST_REMOTE		= 1u << 1,
	IMAP_LIST_RECURSIVEMATCH	= 1u << 2,
	IMAP_LIST_SPECIAL_USE		= 1u << 3,
	IMAP_LIST_CHILDREN		= 1u << 4,	/* return only */
	IMAP_LIST_STATUS		= 1u << 5,	/* return only */
};
struct imap_list {
	bool			 extended;	/* options were given */
	unsigned		 select_opts;
	unsigned		 return_opts;
	unsigned		 status_items;	/* RETURN (STATUS (...)) */
	struct imap_slice	 reference;
	const struct imap_slice	*patterns;
	size_t			 npatterns;
};
/* LIST and LSUB. */
int imap_parse_list(struct imap_parser *p, const struct imap_command *cmd,
    struct imap_list *out, struct imap_parse_error *err);

enum imap_section_text {
	IMAP_SECTION_ALL = 0,		/* BODY[] or BODY[1.2] */
	IMAP_SECTION_HEADER,
	IMAP_SECTION_HEADER_FIELDS,
	IMAP_SECTION_HEADER_FIELDS_NOT,
	IMAP_SECTION_TEXT,
	IMAP_SECTION_MIME,
};
struct imap_section {
	uint32_t		 parts[IMAP_SECTION_PARTS_MAX];
	size_t			 nparts;
	enum imap_section_text	 text;
	const struct imap_slice	*fields;
	size_t			 nfields;
};

enum imap_fetch_att {
	IMAP_FETCH_FLAGS = 1,
	IMAP_FETCH_INTERNALDATE,
	IMAP_FETCH_RFC822_SIZE,
	IMAP_FETCH_ENVELOPE,
	IMAP_FETCH_BODYSTRUCTURE,
	IMAP_FETCH_BODY,		/* non-extensible BODYSTRUCTURE */
	IMAP_FETCH_BODY_SECTION,	/* BODY[...] and BODY.PEEK[...] */
	IMAP_FETCH_BINARY,		/* BINARY[...] and BINARY.PEEK */
	IMAP_FETCH_BINARY_SIZE,
	IMAP_FETCH_UID,
	IMAP_FETCH_MODSEQ,
	IMAP_FETCH_RFC822,
	IMAP_FETCH_RFC822_HEADER,
	IMAP_FETCH_RFC822_TEXT,
};
struct imap_fetch_item {
	enum imap_fetch_att	att;
	bool			peek;
	struct imap_section	section;
	bool			partial;
	uint64_t		offset;
	uint64_t		count;	/* nz-number64 */
};
struct imap_fetch {
	struct imap_seqset		 set;
	const struct imap_fetch_item	*items;
	size_t				 count;
	bool				 has_changedsince;
	uint64_t			 changedsince;
	bool				 vanished;	/* UID FETCH only */
};
int imap_parse_fetch(struct imap_parser *p, const struct imap_command *cmd,
    struct imap_fetch *out, struct imap_parse_error *err);

enum imap_store_op {
	IMAP_STORE_SET = 0,
	IMAP_STORE_ADD,
	IMAP_STORE_REMOVE,
};
struct imap_store {
	struct imap_seqset	set;
	bool			has_unchangedsince;
	uint64_t		unchangedsince;
	enum imap_store_op	op;
	bool			silent;
	struct imap_flags	flags;
};
int imap_parse_store(struct imap_parser *p, const struct imap_command *cmd,
    struct imap_store *out, struct imap_parse_error *err);

/* COPY, MOVE and their UID forms; UID EXPUNGE (mailbox unused). */
struct imap_copy {
	struct imap_seqset	set;
	struct imap_mailbox	mailbox;
};
int imap_parse_copy(struct imap_parser *p, const struct imap_command *cmd,
    struct imap_copy *out, struct imap_parse_error *err);
int imap_parse_uid_expunge(struct imap_parser *p,
    const struct imap_command *cmd, struct imap_seqset *out,
    struct imap_parse_error *err);

enum imap_search_op {
	IMAP_SEARCH_AND = 1,	/* children: parenthesised or top level */
	IMAP_SEARCH_OR,		/* two children */
	IMAP_SEARCH_NOT,	/* one child */
	IMAP_SEARCH_ALL,
	IMAP_SEARCH_ANSWERED,
	IMAP_SEARCH_DELETED,
	IMAP_SEARCH_DRAFT,
	IMAP_SEARCH_FLAGGED,
	IMAP_SEARCH_SEEN,
	IMAP_SEARCH_UNANSWERED,
	IMAP_SEARCH_UNDELETED,
	IMAP_SEARCH_UNDRAFT,
	IMAP_SEARCH_UNFLAGGED,
	IMAP_SEARCH_UNSEEN,
	IMAP_SEARCH_NEW,	/* IMAP4rev1 */
	IMAP_SEARCH_OLD,
	IMAP_SEARCH_RECENT,
	IMAP_SEARCH_KEYWORD,	/* str */
	IMAP_SEARCH_UNKEYWORD,
	IMAP_SEARCH_BCC,	/* str */
	IMAP_SEARCH_BODY,
	IMAP_SEARCH_CC,
	IMAP_SEARCH_FROM,
	IMAP_SEARCH_SUBJECT,
	IMAP_SEARCH_TEXT,
	IMAP_SEARCH_TO,
	IMAP_SEARCH_HEADER,	/* field = str, value = str2 */
	IMAP_SEARCH_BEFORE,	/* date */
	IMAP_SEARCH_ON,
	IMAP_SEARCH_SINCE,
	IMAP_SEARCH_SENTBEFORE,
	IMAP_SEARCH_SENTON,
	IMAP_SEARCH_SENTSINCE,
	IMAP_SEARCH_LARGER,	/* num */
	IMAP_SEARCH_SMALLER,
	IMAP_SEARCH_MODSEQ,	/* num; str = entry name, str2 = type */
	IMAP_SEARCH_UID,	/* set */
	IMAP_SEARCH_SEQSET,	/* set */
};
struct imap_search_key {
	enum imap_search_op		 op;
	struct imap_slice		 str, str2;
	uint64_t			 num;
	struct imap_datetime		 date;	/* day precision */
	struct imap_seqset		 set;
	const struct imap_search_key	*child;	/* AND, OR, NOT */
	const struct imap_search_key	*next;	/* sibling */
};

enum imap_search_ret {
	IMAP_SEARCH_RET_MIN	= 1u << 0,
	IMAP_SEARCH_RET_MAX	= 1u << 1,
	IMAP_SEARCH_RET_ALL	= 1u << 2,
	IMAP_SEARCH_RET_COUNT	= 1u << 3,
	IMAP_SEARCH_RET_SAVE	= 1u << 4,
};
struct imap_search {
	bool				 esearch;	/* RETURN given */
	unsigned			 ret;	/* 0 with esearch: ALL */
	bool				 has_charset;
	struct imap_slice		 charset;
	const struct imap_search_key	*root;	/* an AND node */
};
int imap_parse_search(struct imap_parser *p, const struct imap_command *cmd,
    struct imap_search *out, struct imap_parse_error *err);

enum imap_sort_key {
	IMAP_SORT_ARRIVAL = 1,
	IMAP_SORT_CC,
	IMAP_SORT_DATE,
	IMAP_SORT_FROM,
	IMAP_SORT_SIZE,
	IMAP_SORT_SUBJECT,
	IMAP_SORT_TO,
};
struct imap_sort_criterion {
	enum imap_sort_key	key;
	bool			reverse;
};
struct imap_sort {
	const struct imap_sort_criterion	*criteria;
	size_t					 count;
	struct imap_search			 search;
};
/* SORT and UID SORT (RFC 5256): charset is mandatory; RETURN options
 * (ESORT, RFC 5267) go to search.esearch and search.ret. */
int imap_parse_sort(struct imap_parser *p, const struct imap_command *cmd,
    struct imap_sort *out, struct imap_parse_error *err);

enum imap_thread_alg {
	IMAP_THREAD_ORDEREDSUBJECT = 1,
	IMAP_THREAD_REFERENCES,
	IMAP_THREAD_OTHER,	/* a syntactically valid unknown atom */
};
struct imap_thread {
	enum imap_thread_alg	alg;
	struct imap_slice	alg_name;
	struct imap_search	search;
};
int imap_parse_thread(struct imap_parser *p, const struct imap_command *cmd,
    struct imap_thread *out, struct imap_parse_error *err);

/* RFC 9208 QUOTA. */
struct imap_quota_resource {
	struct imap_slice	name;
	uint64_t		limit;
};
struct imap_setquota {
	struct imap_slice			 root;
	const struct imap_quota_resource	*res;
	size_t					 count;
};
int imap_parse_getquota(const struct imap_command *cmd,
    struct imap_slice *root_r, struct imap_parse_error *err);
int imap_parse_setquota(struct imap_parser *p, const struct imap_command *cmd,
    struct imap_setquota *out, struct imap_parse_error *err);

/* Dates. date-text "dd-Mon-yyyy" as an atom or quoted string; date-time as
 * a quoted string "dd-Mon-yyyy hh:mm:ss +zzzz". */
int imap_parse_date(const struct imap_arg *a, struct imap_datetime *out);
int imap_parse_datetime(const struct imap_arg *a, struct imap_datetime *out);

#endif
