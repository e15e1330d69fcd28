"""mean_field"""
