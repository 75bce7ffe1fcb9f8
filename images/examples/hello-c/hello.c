/* SPDX-License-Identifier: MIT */
/*
 * mvm example job (images/examples/hello-c): a dynamically linked program,
 * added with --add-binary so the image must carry libc and ld.so. Prints to
 * stdout and stderr, echoes its arguments, $GREETING and /etc/hello.conf,
 * exits 0.
 */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
	const char *g = getenv("GREETING");
	char line[256];
	FILE *f;
	int i;

	printf("hello-c: argc=%d\n", argc);
	for (i = 0; i < argc; i++)
		printf("argv[%d]=%s\n", i, argv[i]);
	printf("GREETING=%s\n", g ? g : "(unset)");
	f = fopen("/etc/hello.conf", "r");
	if (f && fgets(line, sizeof(line), f))
		printf("hello.conf: %s", line);
	if (f)
		fclose(f);
	fprintf(stderr, "hello-c: this line is on stderr\n");
	return 0;
}
