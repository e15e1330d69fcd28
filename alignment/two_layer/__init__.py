"""two_layer"""
