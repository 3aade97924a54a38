# Finds the libraries twla builds against: Debian 12 packages here, the GPU image's set there.
find_package(Torch REQUIRED)          # Debian libtorch 1.13 here; python torch 2.x on the GPU box
find_package(Threads REQUIRED)
# ATen's at::parallel_for is a header template: it runs in parallel only in translation units
# compiled with OpenMP (_OPENMP); without it every row loop of the quantizers ran on one thread.
find_package(OpenMP REQUIRED COMPONENTS CXX)
find_package(yaml-cpp REQUIRED)
find_package(nlohmann_json REQUIRED)
find_package(Boost REQUIRED COMPONENTS program_options)
find_package(HDF5 REQUIRED COMPONENTS C)
find_package(PkgConfig REQUIRED)
pkg_check_modules(SENTENCEPIECE REQUIRED IMPORTED_TARGET sentencepiece)
find_package(BLAS)
find_package(Catch2 REQUIRED)

if(TWLA_WITH_GNUPLOT)
  find_path(GNUPLOT_IOSTREAM_INCLUDE gnuplot-iostream.h)
  find_package(Boost COMPONENTS iostreams filesystem system)
  if(NOT GNUPLOT_IOSTREAM_INCLUDE OR NOT Boost_IOSTREAMS_FOUND)
    message(STATUS "gnuplot-iostream not found: plots are off")
    set(TWLA_WITH_GNUPLOT OFF)
  endif()
endif()

if(TWLA_WITH_CUDA)
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      set(CMAKE_CUDA_ARCHITECTURES 80 90)   # A100, H100/H200
    endif()
    enable_language(CUDA)
    find_package(CUDAToolkit)
    message(STATUS "nvcc found: CUDA kernels are built for ${CMAKE_CUDA_ARCHITECTURES}")
  else()
    message(STATUS "nvcc not found: CPU kernels only")
    set(TWLA_WITH_CUDA OFF)
  endif()
endif()

# Catch2 v2 (Debian) and v3 (GPU image) differ in headers: tests/catch.h hides that.
if(TARGET Catch2::Catch2WithMain AND Catch2_VERSION VERSION_GREATER_EQUAL 3)
  set(TWLA_CATCH_TARGET Catch2::Catch2)
  set(TWLA_CATCH_V3 ON)
else()
  set(TWLA_CATCH_TARGET Catch2::Catch2)
  set(TWLA_CATCH_V3 OFF)
endif()

# The git commit goes into every result file.
execute_process(COMMAND git rev-parse --short=12 HEAD WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}
                OUTPUT_VARIABLE TWLA_GIT_HASH OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
if(NOT TWLA_GIT_HASH)
  set(TWLA_GIT_HASH "unknown")
endif()

# One helper so every folder declares its library the same way.
function(twla_library name)
  file(GLOB srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cpp)
  add_library(${name} STATIC ${srcs})
  target_include_directories(${name} PUBLIC ${CMAKE_SOURCE_DIR})
  target_compile_options(${name} PRIVATE -Wall -Wextra -Wno-unused-parameter)
  target_link_libraries(${name} PUBLIC ${ARGN} OpenMP::OpenMP_CXX)
endfunction()
