# bbs_warnings: an interface target carrying the house warning set and,
# with -DBBS_SANITIZE=ON, ASan + UBSan. Generated protobuf code does not
# link it, so these flags never loosen for our own sources.
add_library(bbs_warnings INTERFACE)
target_compile_options(bbs_warnings INTERFACE
    -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
    -Wold-style-definition -Wpointer-arith -Wwrite-strings -Wformat=2 -Wvla
    -Wimplicit-fallthrough -Wundef)
target_compile_definitions(bbs_warnings INTERFACE _POSIX_C_SOURCE=200809L)

if(BBS_SANITIZE)
    target_compile_options(bbs_warnings INTERFACE
        -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
    target_link_options(bbs_warnings INTERFACE -fsanitize=address,undefined)
endif()
