module golab/zoo

go 1.15
