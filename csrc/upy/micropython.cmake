# MicroPython user C module "iotakernel" (CMake-based ports: esp32, rp2):
#   make -C ports/rp2 USER_C_MODULES=/path/to/iota_edge/csrc/upy/micropython.cmake
add_library(usermod_iotakernel INTERFACE)

set(IOTAKERNEL_SRC ${CMAKE_CURRENT_LIST_DIR}/..)
target_sources(usermod_iotakernel INTERFACE
    ${CMAKE_CURRENT_LIST_DIR}/modiotakernel.c
    ${IOTAKERNEL_SRC}/trinary.c
    ${IOTAKERNEL_SRC}/curl.c
    ${IOTAKERNEL_SRC}/keccak.c
    ${IOTAKERNEL_SRC}/kerl.c
    ${IOTAKERNEL_SRC}/iss.c
    ${IOTAKERNEL_SRC}/bundle.c
    ${IOTAKERNEL_SRC}/mam.c
    ${IOTAKERNEL_SRC}/chains.c
    ${IOTAKERNEL_SRC}/lanes.c
    ${IOTAKERNEL_SRC}/pow.c
    ${IOTAKERNEL_SRC}/pow_x86.c
    ${IOTAKERNEL_SRC}/pow_neon.c
    ${IOTAKERNEL_SRC}/pow_threads.c
)
target_include_directories(usermod_iotakernel INTERFACE ${IOTAKERNEL_SRC})
target_compile_definitions(usermod_iotakernel INTERFACE IK_NO_THREADS=1)

target_link_libraries(usermod INTERFACE usermod_iotakernel)
