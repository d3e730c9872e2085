module golab/hot

go 1.15
