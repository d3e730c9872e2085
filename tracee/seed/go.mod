module golab/seed

go 1.15
