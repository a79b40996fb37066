#include <assert.h>
#include <stdlib.h>
static int *nowhere;
static __attribute__((noinline)) int bitmap_disable(int *bitmap) { return *bitmap; }
__attribute__((noinline)) int do_transaction(int n) { assert(n > 0); return bitmap_disable(nowhere) + n; }
int main(int argc, char **argv) { return do_transaction(argc - 1 + (argv[1] ? atoi(argv[1]) : 0)); }
