# Locates LibTorch and defines the interface target sigtrain::torch.
#   SIGTRAIN_TORCH_HAS_CUDA  ON when the LibTorch was built with CUDA (then CUDA code paths that need it are built).
function(_sigtrain_torch_prefix_from_python out)
  set(candidates "${PROJECT_SOURCE_DIR}/.venv/bin/python3")
  find_program(_sys_python python3)
  if(_sys_python)
    list(APPEND candidates "${_sys_python}")
  endif()
  foreach(py IN LISTS candidates)
    if(EXISTS "${py}")
      execute_process(COMMAND "${py}" -c "import torch, sys; sys.stdout.write(torch.utils.cmake_prefix_path)"
                      OUTPUT_VARIABLE prefix RESULT_VARIABLE rc ERROR_QUIET)
      if(rc EQUAL 0 AND EXISTS "${prefix}")
        set(${out} "${prefix}" PARENT_SCOPE)
        return()
      endif()
    endif()
  endforeach()
  set(${out} "" PARENT_SCOPE)
endfunction()

macro(sigtrain_find_torch)
  # Torch's CUDA config otherwise probes the local GPU with a test program, which fails on machines without one.
  if(NOT DEFINED TORCH_CUDA_ARCH_LIST AND NOT DEFINED ENV{TORCH_CUDA_ARCH_LIST})
    set(TORCH_CUDA_ARCH_LIST "8.0;9.0")
  endif()
  # Torch's CUDA config replaces CMAKE_CUDA_ARCHITECTURES and appends its own -gencode flags; our kernels choose
  # their architectures themselves, so both are restored afterwards.
  set(_sigtrain_cuda_archs "${CMAKE_CUDA_ARCHITECTURES}")
  set(_sigtrain_cuda_flags "${CMAKE_CUDA_FLAGS}")
  find_package(Torch QUIET CONFIG)
  if(NOT Torch_FOUND)
    _sigtrain_torch_prefix_from_python(_torch_prefix)
    if(_torch_prefix)
      list(APPEND CMAKE_PREFIX_PATH "${_torch_prefix}")
    endif()
    # Torch's config looks for cuDNN and friends next to CUDA; nothing for us to add.
    find_package(Torch CONFIG)
  endif()
  if(NOT Torch_FOUND)
    message(FATAL_ERROR
      "LibTorch not found. Run scripts/setup.sh (it installs torch==2.11.0 into .venv), or pass "
      "-DCMAKE_PREFIX_PATH=<libtorch>/share/cmake, or configure with -DSIGTRAIN_WITH_TORCH=OFF "
      "to build only the torch-free parts.")
  endif()
  set(CMAKE_CUDA_ARCHITECTURES "${_sigtrain_cuda_archs}")
  set(CMAKE_CUDA_FLAGS "${_sigtrain_cuda_flags}")
  set(SIGTRAIN_TORCH_HAS_CUDA OFF)
  if(TARGET torch_cuda OR TORCH_CUDA_LIBRARIES)
    set(SIGTRAIN_TORCH_HAS_CUDA ON)
  endif()
  message(STATUS "sigtrain: LibTorch ${Torch_VERSION} at ${Torch_DIR}, CUDA ${SIGTRAIN_TORCH_HAS_CUDA}")
  if(NOT TARGET sigtrain_torch)
    add_library(sigtrain_torch INTERFACE)
    target_link_libraries(sigtrain_torch INTERFACE ${TORCH_LIBRARIES})
    # The PyPI libtorch.so exports its own (statically linked, partial) copy of std::filesystem; with libtorch
    # first among a program's libraries, our std::filesystem::remove_all bound to it and crashed. Naming
    # libstdc++ first makes the dynamic linker resolve std:: symbols from the real libstdc++.
    target_link_options(sigtrain_torch INTERFACE "LINKER:--push-state,--no-as-needed,-lstdc++,--pop-state")
    # Torch's flags (ABI define etc.) for C++ only; CUDA TUs of ours never include Torch.
    separate_arguments(_torch_flags UNIX_COMMAND "${TORCH_CXX_FLAGS}")
    target_compile_options(sigtrain_torch INTERFACE $<$<COMPILE_LANGUAGE:CXX>:${_torch_flags}>)
    if(SIGTRAIN_TORCH_HAS_CUDA)
      target_compile_definitions(sigtrain_torch INTERFACE SIGTRAIN_TORCH_CUDA=1)
    endif()
    add_library(sigtrain::torch ALIAS sigtrain_torch)
  endif()
endmacro()
