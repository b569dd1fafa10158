# Embeds a file into the binary: writes OUTPUT, a C++ source defining
#   std::string_view NAMESPACE::FUNCTION()
# that returns INPUT's bytes. Run at build time (cmake -P), so a change of INPUT rebuilds it.
# Usage: cmake -DINPUT=… -DOUTPUT=… -DNAMESPACE=… -DFUNCTION=… -P embed.cmake
# With -DJSON_ARRAY=ON, INPUT is a |-separated list of JSON files, embedded as one JSON array of
# their contents (the OpenAPI fragments, merged at run time).
if(JSON_ARRAY)
  string(REPLACE "|" ";" INPUT "${INPUT}")
  set(content "5b")   # [
  set(separator "")
  foreach(file IN LISTS INPUT)
    file(READ "${file}" part HEX)
    string(APPEND content "${separator}${part}")
    set(separator "2c")   # ,
  endforeach()
  string(APPEND content "5d")   # ]
  list(GET INPUT 0 INPUT)
else()
  file(READ "${INPUT}" content HEX)
endif()
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${content}")
# Lines of 32 bytes, for compilers and diffs.
string(REGEX REPLACE "((0x[0-9a-f][0-9a-f],){32})" "\\1\n" bytes "${bytes}")
get_filename_component(name "${INPUT}" NAME)
file(WRITE "${OUTPUT}.tmp"
  "// Generated from ${name} by cmake/embed.cmake at build time: do not edit.\n"
  "#include <string_view>\n"
  "namespace ${NAMESPACE} {\n"
  "namespace {\nconst char embedded[] = {\n${bytes}\n0};\n}  // namespace\n"
  "std::string_view ${FUNCTION}() { return {embedded, sizeof embedded - 1}; }\n"
  "}  // namespace ${NAMESPACE}\n")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUTPUT}.tmp")
