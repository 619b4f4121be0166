module keygate.test/goreader

go 1.22
