public enum GradientCheckPlaceholder {}
