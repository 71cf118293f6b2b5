# bbs_protoc_c(OUT_SRCS OUT_HDRS DIR files...): run protoc-c on each .proto
# in DIR, writing <name>.pb-c.c/.h into the current binary directory.
find_program(PROTOC_C protoc-c REQUIRED)

function(bbs_protoc_c out_srcs out_hdrs dir)
    set(srcs)
    set(hdrs)
    foreach(proto ${ARGN})
        get_filename_component(name ${proto} NAME_WE)
        set(c ${CMAKE_CURRENT_BINARY_DIR}/${name}.pb-c.c)
        set(h ${CMAKE_CURRENT_BINARY_DIR}/${name}.pb-c.h)
        add_custom_command(
            OUTPUT ${c} ${h}
            COMMAND ${PROTOC_C} --c_out=${CMAKE_CURRENT_BINARY_DIR} -I${dir} ${dir}/${name}.proto
            DEPENDS ${dir}/${name}.proto ${ARGN}
            COMMENT "protoc-c ${name}.proto"
            VERBATIM)
        list(APPEND srcs ${c})
        list(APPEND hdrs ${h})
    endforeach()
    set(${out_srcs} ${srcs} PARENT_SCOPE)
    set(${out_hdrs} ${hdrs} PARENT_SCOPE)
endfunction()
