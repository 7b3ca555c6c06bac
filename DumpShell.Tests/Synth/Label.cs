namespace DumpShell.Tests.Synth;

/// <summary>
/// A 64-bit value that may be defined after it is used. A <see cref="Section"/> can emit a
/// label before its value is known; the value is patched in when the dump is built.
/// Labels are bound either explicitly (<see cref="Set"/>), by <see cref="Section.Mark"/>
/// (file offset of a position), or by placing a section (its <see cref="Section.Start"/>
/// and <see cref="Section.FinalSize"/>). Derived labels (<c>label + 4</c>, <c>a - b</c>,
/// <c>a + b</c>) are immutable expressions over other labels.
/// </summary>
public sealed class Label
{
    private enum Kind : byte { Unbound, Constant, Offset, Sum, Difference }

    private static int s_counter;

    private Kind _kind;
    private ulong _value;          // Constant: the value. Offset: the delta (two's complement).
    private readonly Label? _a;
    private readonly Label? _b;

    /// <summary>Name used in error messages.</summary>
    public string Name { get; }

    /// <summary>Create an unbound label.</summary>
    public Label(string? name = null)
    {
        Name = name ?? $"label#{Interlocked.Increment(ref s_counter)}";
        _kind = Kind.Unbound;
    }

    private Label(string name, Kind kind, Label? a, Label? b, ulong value)
    {
        Name = name;
        _kind = kind;
        _a = a;
        _b = b;
        _value = value;
    }

    /// <summary>A label whose value is already known.</summary>
    public static Label Const(ulong value, string? name = null)
        => new(name ?? $"const(0x{value:X})", Kind.Constant, null, null, value);

    /// <summary>True once the value (and every label it is derived from) is known.</summary>
    public bool IsBound => TryGetValue(out _);

    /// <summary>The value; throws <see cref="InvalidOperationException"/> if not yet bound.</summary>
    public ulong Value => TryGetValue(out var v)
        ? v
        : throw new InvalidOperationException($"Label '{Name}' has no value (was its section placed / was it marked or set?).");

    /// <summary>Try to evaluate the label. Arithmetic wraps modulo 2^64.</summary>
    public bool TryGetValue(out ulong value)
    {
        unchecked
        {
            switch (_kind)
            {
                case Kind.Constant:
                    value = _value;
                    return true;
                case Kind.Offset:
                    if (_a!.TryGetValue(out var av)) { value = av + _value; return true; }
                    break;
                case Kind.Sum:
                    if (_a!.TryGetValue(out var s1) && _b!.TryGetValue(out var s2)) { value = s1 + s2; return true; }
                    break;
                case Kind.Difference:
                    if (_a!.TryGetValue(out var d1) && _b!.TryGetValue(out var d2)) { value = d1 - d2; return true; }
                    break;
            }
        }
        value = 0;
        return false;
    }

    /// <summary>
    /// Bind an unbound label. Setting an already-bound label to the same value is allowed
    /// (so a layout may be recomputed); a different value throws.
    /// </summary>
    public void Set(ulong value)
    {
        switch (_kind)
        {
            case Kind.Unbound:
                _kind = Kind.Constant;
                _value = value;
                return;
            case Kind.Constant when _value == value:
                return;
            case Kind.Constant:
                throw new InvalidOperationException($"Label '{Name}' is already 0x{_value:X}; cannot set it to 0x{value:X}.");
            default:
                throw new InvalidOperationException($"Label '{Name}' is derived from other labels and cannot be set.");
        }
    }

    public static Label operator +(Label label, long delta)
        => new($"({label.Name}{(delta < 0 ? "-" : "+")}{Math.Abs(delta)})", Kind.Offset, label, null, unchecked((ulong)delta));

    public static Label operator -(Label label, long delta)
        => new($"({label.Name}-{delta})", Kind.Offset, label, null, unchecked((ulong)-delta));

    public static Label operator +(Label a, Label b) => new($"({a.Name}+{b.Name})", Kind.Sum, a, b, 0);

    public static Label operator -(Label a, Label b) => new($"({a.Name}-{b.Name})", Kind.Difference, a, b, 0);

    public override string ToString() => TryGetValue(out var v) ? $"{Name}=0x{v:X}" : $"{Name}=?";
}
