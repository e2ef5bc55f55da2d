module arcane-temporal/tools/gojson

go 1.26
