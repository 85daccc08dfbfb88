/* test_queue: queue file format (envelope round trip, hostile envelopes),
 * queue ids, per-recipient state, and idempotent Maildir delivery. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "maildir.h"
#include "queue.h"
#include "util.h"

struct fixture {
	char	dir[64];
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char path[256];

	snprintf(f->dir, sizeof(f->dir), "/tmp/moat-test-queue-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(path, sizeof(path), "%s/queue/tmp", f->dir);
	assert_int_equal(mkdir_p(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/queue/msg", f->dir);
	assert_int_equal(mkdir_p(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/queue/state", f->dir);
	assert_int_equal(mkdir_p(path, 0700), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static int
count_files(const char *dir)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static void
test_queue_ids_are_unique_and_valid(void **state)
{
	char a[QUEUE_ID_LEN + 1], b[QUEUE_ID_LEN + 1];
	int i;

	(void)state;
	queue_id_new(a);
	assert_true(queue_id_valid(a));
	for (i = 0; i < 1000; i++) {
		queue_id_new(b);
		assert_true(queue_id_valid(b));
		assert_string_not_equal(a, b);
		/* Ids sort by arrival within a process. */
		assert_true(strcmp(a, b) < 0 || strncmp(a, b, 10) > 0);
		memcpy(a, b, sizeof(a));
	}
	assert_false(queue_id_valid("../../etc/passwd"));
	assert_false(queue_id_valid("0123456789abcdef0123456G"));
	assert_false(queue_id_valid("0123456789abcdef01234567x"));
}

static void
test_envelope_round_trip(void **state)
{
	char *rcpts[] = { "a@example.test", "\"b c\"@example.test" };
	struct queue_envelope env = {
		.time = 1700000000, .from = "s@example.org",
		.rcpts = rcpts, .nrcpts = 2, .client_ip = "192.0.2.1",
		.helo = "client.example.org", .service = "smtp",
		.session = "0123456789abcdef", .smtputf8 = true,
	}, out;
	struct buf b;
	const char *error = NULL;
	size_t off;

	(void)state;
	queue_id_new(env.id);
	buf_init(&b, 0);
	assert_int_equal(queue_envelope_format(&env, &b), 0);
	assert_int_equal(buf_append_str(&b, "Subject: x\r\n\r\nbody\r\n"), 0);
	assert_int_equal(queue_envelope_parse(b.data, b.len, &out, &off,
	    &error), 0);
	assert_string_equal(out.id, env.id);
	assert_int_equal(out.time, 1700000000);
	assert_string_equal(out.from, "s@example.org");
	assert_int_equal(out.nrcpts, 2);
	assert_string_equal(out.rcpts[1], "\"b c\"@example.test");
	assert_string_equal(out.helo, "client.example.org");
	assert_true(out.smtputf8);
	assert_false(out.eightbit);
	assert_memory_equal(b.data + off, "Subject: x\r\n", 12);
	queue_envelope_free(&out);
	buf_deinit(&b);
}

static void
test_envelope_null_sender(void **state)
{
	char *rcpts[] = { "a@example.test" };
	struct queue_envelope env = { .from = "", .rcpts = rcpts,
		.nrcpts = 1 }, out;
	struct buf b;
	const char *error = NULL;
	size_t off;

	(void)state;
	queue_id_new(env.id);
	buf_init(&b, 0);
	assert_int_equal(queue_envelope_format(&env, &b), 0);
	assert_int_equal(queue_envelope_parse(b.data, b.len, &out, &off,
	    &error), 0);
	assert_string_equal(out.from, "");
	queue_envelope_free(&out);
	buf_deinit(&b);
}

static void
test_envelope_refuses_newline_in_value(void **state)
{
	struct queue_envelope env = { .from = "a@b\nrcpt evil@x" };
	struct buf b;

	(void)state;
	queue_id_new(env.id);
	buf_init(&b, 0);
	assert_int_equal(queue_envelope_format(&env, &b), -1);
	buf_deinit(&b);
}

static void
test_envelope_parse_rejects_garbage(void **state)
{
	static const char *const bad[] = {
		"",
		"MOATQ1\n",				/* unterminated */
		"NOTQ\nid 0\n\n",			/* magic */
		"MOATQ1\nid ../x\nfrom a@b\n\n",	/* id */
		"MOATQ1\nfrom a@b\n\n",			/* no id */
		"MOATQ1\nid 0123456789abcdef01234567\n\n", /* no from */
		"MOATQ1\nid 0123456789abcdef01234567\nnospace\n\n",
	};
	struct queue_envelope out;
	const char *error = NULL;
	size_t i, off;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		error = NULL;
		assert_int_equal(queue_envelope_parse((const uint8_t *)bad[i],
		    strlen(bad[i]), &out, &off, &error), -1);
		assert_non_null(error);
	}
}

static void
test_write_read_remove(void **state)
{
	struct fixture *f = *state;
	char id[QUEUE_ID_LEN + 1], path[256];
	struct buf env, msg, data;

	queue_id_new(id);
	buf_init(&env, 0);
	buf_init(&msg, 0);
	assert_int_equal(buf_append_str(&env, "E\n"), 0);
	assert_int_equal(buf_append_str(&msg, "M\r\n"), 0);
	assert_int_equal(queue_write(f->dir, id, &env, &msg), 0);
	snprintf(path, sizeof(path), "%s/queue/tmp", f->dir);
	assert_int_equal(count_files(path), 0);
	assert_int_equal(queue_read(f->dir, id, 1024, &data), 0);
	assert_int_equal(data.len, 5);
	assert_memory_equal(data.data, "E\nM\r\n", 5);
	buf_deinit(&data);
	/* The bound is enforced. */
	assert_int_equal(queue_read(f->dir, id, 3, &data), -1);
	assert_int_equal(queue_remove(f->dir, id), 0);
	assert_int_equal(queue_read(f->dir, id, 1024, &data), -1);
	assert_int_equal(queue_remove(f->dir, "../../x"), -1);
	buf_deinit(&env);
	buf_deinit(&msg);
}

static void
test_state_records_progress(void **state)
{
	struct fixture *f = *state;
	char id[QUEUE_ID_LEN + 1], path[256];
	struct queue_state st;
	FILE *fp;

	queue_id_new(id);
	assert_int_equal(queue_state_load(f->dir, id, 3, &st), 0);
	assert_int_equal(st.attempts, 0);
	assert_int_equal(st.status[1], QUEUE_RCPT_PENDING);
	queue_state_free(&st);
	assert_int_equal(queue_state_mark(f->dir, id, 1, QUEUE_RCPT_DONE,
	    NULL), 0);
	assert_int_equal(queue_state_mark(f->dir, id, 2, QUEUE_RCPT_FAILED,
	    "no such\nuser"), 0);
	assert_int_equal(queue_state_defer(f->dir, id, 4, 12345,
	    "disk full"), 0);
	/* A torn last record (crash mid-append) is ignored. */
	snprintf(path, sizeof(path), "%s/queue/state/%s", f->dir, id);
	fp = fopen(path, "a");
	assert_non_null(fp);
	fputs("done 0", fp);
	fclose(fp);
	assert_int_equal(queue_state_load(f->dir, id, 3, &st), 0);
	assert_int_equal(st.status[0], QUEUE_RCPT_PENDING);
	assert_int_equal(st.status[1], QUEUE_RCPT_DONE);
	assert_int_equal(st.status[2], QUEUE_RCPT_FAILED);
	assert_int_equal(st.attempts, 4);
	assert_int_equal(st.next_try, 12345);
	assert_string_equal(st.last_error, "disk full");
	queue_state_free(&st);
	/* Out-of-range recipient indexes are ignored, not written. */
	assert_int_equal(queue_state_mark(f->dir, id, 99, QUEUE_RCPT_DONE,
	    NULL), 0);
	assert_int_equal(queue_state_load(f->dir, id, 3, &st), 0);
	queue_state_free(&st);
}

static void
test_maildir_delivery_is_idempotent(void **state)
{
	struct fixture *f = *state;
	char md[256], name[256], newdir[300], cur[600], from[600];
	struct iovec iov[2] = {
		{ .iov_base = "H: v\r\n", .iov_len = 6 },
		{ .iov_base = "\r\nbody\r\n", .iov_len = 8 },
	};

	assert_int_equal(maildir_path(f->dir, "example.test", "demo", md,
	    sizeof(md)), 0);
	assert_int_equal(maildir_name(1700000000, "0123456789abcdef01234567",
	    "host/with:chars", name, sizeof(name)), 0);
	assert_string_equal(name,
	    "1700000000.Q0123456789abcdef01234567.host\\057with\\072chars");
	/* The Maildir is created on first delivery if missing. */
	assert_int_equal(maildir_deliver(md, name, iov, 2, false),
	    MAILDIR_DELIVERED);
	assert_int_equal(maildir_deliver(md, name, iov, 2, false),
	    MAILDIR_ALREADY);
	snprintf(newdir, sizeof(newdir), "%s/new", md);
	assert_int_equal(count_files(newdir), 1);
	/* A client moved it to cur/ with flags: still found on recovery. */
	snprintf(from, sizeof(from), "%s/new/%s", md, name);
	snprintf(cur, sizeof(cur), "%s/cur/%s:2,S", md, name);
	assert_int_equal(rename(from, cur), 0);
	assert_int_equal(maildir_deliver(md, name, iov, 2, true),
	    MAILDIR_ALREADY);
	assert_int_equal(count_files(newdir), 0);
	snprintf(newdir, sizeof(newdir), "%s/tmp", md);
	assert_int_equal(count_files(newdir), 0);
}

static void
test_maildir_rejects_unsafe_names(void **state)
{
	struct fixture *f = *state;
	char md[256];

	assert_int_equal(maildir_path(f->dir, "example.test", "../x", md,
	    sizeof(md)), -1);
	assert_int_equal(maildir_path(f->dir, "..", "x", md, sizeof(md)),
	    -1);
	assert_int_equal(maildir_path(f->dir, "a/b", "x", md, sizeof(md)),
	    -1);
	assert_int_equal(maildir_path(f->dir, "example.test", ".hidden", md,
	    sizeof(md)), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_queue_ids_are_unique_and_valid),
		cmocka_unit_test(test_envelope_round_trip),
		cmocka_unit_test(test_envelope_null_sender),
		cmocka_unit_test(test_envelope_refuses_newline_in_value),
		cmocka_unit_test(test_envelope_parse_rejects_garbage),
		cmocka_unit_test_setup_teardown(test_write_read_remove, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_state_records_progress,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_maildir_delivery_is_idempotent, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_maildir_rejects_unsafe_names, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
