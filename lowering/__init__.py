"""fuse.lowering"""
