/* test_shmap: the file-backed shared table plumbing (src/core/shmap.c):
 * create and reopen, the layout check (missing, invalid, re-created,
 * not a regular file), a failed header init leaving no file, locks at a
 * stride, and a lock whose holder died. Files live in a temporary
 * directory that the group teardown removes. */
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"
#include "shmap.h"
#include "tmpdir.h"

#define T_MAGIC		"MOATTST1"
#define T_SLOTS		4

/* A small layout: a header, then T_SLOTS slots each with its lock. */
struct t_header {
	char		magic[8];
	uint64_t	file_size;
	uint32_t	slots;
	uint32_t	pad;
	uint64_t	value;
};

struct t_slot {
	union shmap_mutex lock;
	uint64_t	count;
	char		pad[56];
};

static char tmpdir[] = "/tmp/test_shmap.XXXXXX";
static bool init_fails;
static unsigned init_calls;

static uint64_t
t_size(uint32_t slots)
{
	return sizeof(struct t_header) + (uint64_t)slots *
	    sizeof(struct t_slot);
}

static struct t_slot *
t_slots(void *map)
{
	return (struct t_slot *)(void *)((struct t_header *)map + 1);
}

static const char *
t_check(const void *hdr, uint64_t size, const void *want)
{
	const struct t_header *h = hdr;
	uint32_t w = *(const uint32_t *)want;

	if (memcmp(h->magic, T_MAGIC, sizeof(h->magic)) != 0)
		return "bad magic";
	if (h->file_size != t_size(h->slots) || h->file_size != size)
		return "bad size";
	if (w != 0 && h->slots != w)
		return "other size";
	return NULL;
}

static int
t_init(void *hdr, uint64_t size, const void *want, const char **error_r)
{
	struct t_header *h = hdr;

	init_calls++;
	/* Zeroed, magic not yet there. */
	assert_int_equal(h->magic[0], 0);
	assert_int_equal(h->value, 0);
	if (init_fails) {
		*error_r = "init refused";
		errno = EIO;
		return -1;
	}
	h->file_size = size;
	h->slots = *(const uint32_t *)want;
	return 0;
}

static int
t_locks_init(void *map)
{
	struct t_header *h = map;

	return shmap_mutex_init(&t_slots(map)[0].lock.m, h->slots,
	    sizeof(struct t_slot));
}

static const struct shmap_layout t_layout = {
	.name = "test_shmap",
	.magic = T_MAGIC,
	.header_size = sizeof(struct t_header),
	.check = t_check,
	.init = t_init,
	.locks_init = t_locks_init,
	.recreate_note = "test data starts empty",
};

static void
t_path(const char *name, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/%s.map", tmpdir, name);

	assert_true(n > 0 && (size_t)n < len);
}

static void
t_open(struct shmap *m, const char *name, uint32_t slots)
{
	const char *error = NULL;
	char path[256];

	t_path(name, path, sizeof(path));
	assert_int_equal(shmap_open(m, &t_layout, path, &slots,
	    slots != 0 ? t_size(slots) : 0, &error), 0);
	assert_non_null(m->map);
}

static void
test_create_then_reopen(void **state)
{
	struct shmap a, b;
	struct t_header *h;
	struct stat st;
	char path[256];

	(void)state;
	init_calls = 0;
	t_open(&a, "reopen", T_SLOTS);
	assert_int_equal(init_calls, 1);
	h = a.map;
	assert_memory_equal(h->magic, T_MAGIC, 8);
	assert_int_equal(h->slots, T_SLOTS);
	assert_int_equal(a.size, t_size(T_SLOTS));
	h->value = 42;
	assert_int_equal(shmap_sync(&a), 0);

	/* Another opener (no create) sees the same memory. */
	t_open(&b, "reopen", 0);
	assert_int_equal(((struct t_header *)b.map)->value, 42);
	((struct t_header *)b.map)->value = 43;
	assert_int_equal(h->value, 43);
	shmap_close(&b);
	shmap_close(&a);
	assert_null(a.map);
	shmap_close(&a);	/* twice is harmless */

	/* A restart with create keeps the data, builds nothing. */
	t_open(&a, "reopen", T_SLOTS);
	assert_int_equal(init_calls, 1);
	assert_int_equal(((struct t_header *)a.map)->value, 43);
	shmap_close(&a);

	t_path("reopen", path, sizeof(path));
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(st.st_size, (off_t)t_size(T_SLOTS));
}

static void
test_missing_and_invalid(void **state)
{
	struct shmap m;
	const char *error = NULL;
	char path[256], junk[100];
	uint32_t want = 0;
	int fd;

	(void)state;
	t_path("absent", path, sizeof(path));
	errno = 0;
	assert_int_equal(shmap_open(&m, &t_layout, path, &want, 0, &error),
	    -1);
	assert_string_equal(error, "no such file");
	assert_int_equal(errno, ENOENT);
	assert_int_equal(access(path, F_OK), -1);

	t_path("junk", path, sizeof(path));
	memset(junk, 'x', sizeof(junk));
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, junk, sizeof(junk)), sizeof(junk));
	assert_int_equal(close(fd), 0);
	assert_int_equal(shmap_open(&m, &t_layout, path, &want, 0, &error),
	    -1);
	assert_string_equal(error, "invalid file");
	assert_int_equal(errno, ENOENT);

	/* With create it is replaced by a fresh, valid file. */
	want = T_SLOTS;
	assert_int_equal(shmap_open(&m, &t_layout, path, &want,
	    t_size(T_SLOTS), &error), 0);
	assert_memory_equal(m.map, T_MAGIC, 8);
	assert_int_equal(m.size, t_size(T_SLOTS));
	shmap_close(&m);

	/* Another size than the one wanted: re-created, data gone. */
	t_open(&m, "resize", 2);
	((struct t_header *)m.map)->value = 7;
	shmap_close(&m);
	t_open(&m, "resize", T_SLOTS);
	assert_int_equal(((struct t_header *)m.map)->slots, T_SLOTS);
	assert_int_equal(((struct t_header *)m.map)->value, 0);
	shmap_close(&m);
}

static void
test_not_regular_file(void **state)
{
	struct shmap m;
	const char *error = NULL;
	char path[256];
	uint32_t want = T_SLOTS;

	(void)state;
	t_path("fifo", path, sizeof(path));
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(shmap_open(&m, &t_layout, path, &want,
	    t_size(T_SLOTS), &error), -1);
	assert_string_equal(error, "not a regular file");
	assert_int_equal(errno, EINVAL);
}

static void
test_init_failure_leaves_nothing(void **state)
{
	struct shmap m;
	const char *error = NULL;
	char path[256], tmp[300];
	uint32_t want = T_SLOTS;

	(void)state;
	t_path("initfail", path, sizeof(path));
	init_fails = true;
	assert_int_equal(shmap_open(&m, &t_layout, path, &want,
	    t_size(T_SLOTS), &error), -1);
	init_fails = false;
	assert_string_equal(error, "init refused");
	assert_int_equal(errno, EIO);
	assert_int_equal(access(path, F_OK), -1);
	assert_true((size_t)snprintf(tmp, sizeof(tmp), "%s.new", path) <
	    sizeof(tmp));
	assert_int_equal(access(tmp, F_OK), -1);
}

static void
test_locks_at_stride_shared(void **state)
{
	struct shmap m;
	struct t_slot *s;
	int status, i;
	pid_t pid;

	(void)state;
	t_open(&m, "locks", T_SLOTS);
	s = t_slots(m.map);
	/* Two processes add under the lock of every slot. */
	pid = fork();
	assert_true(pid >= 0);
	for (i = 0; i < 20000; i++) {
		struct t_slot *x = &s[i % T_SLOTS];

		assert_false(shmap_lock(&x->lock.m));
		x->count++;
		shmap_unlock(&x->lock.m);
	}
	if (pid == 0)
		_exit(0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	for (i = 0; i < T_SLOTS; i++)
		assert_int_equal(s[i].count, 2 * 20000 / T_SLOTS);
	shmap_close(&m);
}

static void
test_dead_holder_recovered(void **state)
{
	struct shmap m;
	struct t_slot *s;
	int status;
	pid_t pid;

	(void)state;
	t_open(&m, "robust", T_SLOTS);
	s = t_slots(m.map);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		(void)shmap_lock(&s[1].lock.m);
		_exit(0);	/* dies holding it */
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(shmap_lock(&s[1].lock.m));	/* recovered */
	shmap_unlock(&s[1].lock.m);
	assert_false(shmap_lock(&s[1].lock.m));	/* and usable again */
	shmap_unlock(&s[1].lock.m);
	assert_false(shmap_lock(&s[0].lock.m));	/* its neighbour unharmed */
	shmap_unlock(&s[0].lock.m);
	shmap_close(&m);

	/* A restart by the creator resets a lock left held. */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		t_open(&m, "robust", 0);
		(void)shmap_lock(&t_slots(m.map)[2].lock.m);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	t_open(&m, "robust", T_SLOTS);
	assert_false(shmap_lock(&t_slots(m.map)[2].lock.m));
	shmap_unlock(&t_slots(m.map)[2].lock.m);
	shmap_close(&m);
}

static int
setup(void **state)
{
	(void)state;
	log_init("test_shmap", LOG_LEVEL_WARN);
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	(void)state;
	return tmpdir_remove(tmpdir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_then_reopen),
		cmocka_unit_test(test_missing_and_invalid),
		cmocka_unit_test(test_not_regular_file),
		cmocka_unit_test(test_init_failure_leaves_nothing),
		cmocka_unit_test(test_locks_at_stride_shared),
		cmocka_unit_test(test_dead_holder_recovered),
	};

	return cmocka_run_group_tests_name("shmap", tests, setup, teardown);
}
