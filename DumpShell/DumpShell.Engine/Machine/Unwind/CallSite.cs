using Iced.Intel;

namespace DumpShell.Machine.Unwind;

/// <summary>What the code before a candidate return address says.</summary>
public enum CallSiteVerdict
{
    /// <summary>A call instruction ends exactly at the address.</summary>
    Call,
    /// <summary>The code is there and no call ends at the address.</summary>
    NotCall,
    /// <summary>The code before the address is not available.</summary>
    Unknown,
}

/// <summary>
/// Checks that an address follows a CALL: decodes backwards from it, trying the call encodings that can end there
/// (E8 rel32 and the FF /2 forms, 2 to 7 bytes, 8 with a REX prefix on x64), and accepts only a decoded call whose
/// last byte is right before the address.
/// </summary>
public static class CallSite
{
    /// <summary>Longest call encoding tried: FF /2 with SIB and disp32 is 7 bytes; a REX prefix makes it 8 on x64.</summary>
    public static int MaxCallLength(int bitness) => bitness == 64 ? 8 : 7;

    /// <summary>
    /// Decides whether the bytes right before <paramref name="returnAddress"/> end in a call. <paramref name="read"/>
    /// reads process or image bytes at an address and returns how many it got (contiguously from the start).
    /// </summary>
    public static CallSiteVerdict Check(ulong returnAddress, int bitness, ReadBytes read)
    {
        int max = MaxCallLength(bitness);
        if (returnAddress < (ulong)max) return CallSiteVerdict.Unknown;
        var window = new byte[max];
        int have = 0;
        // The largest window ending at the address that is all there (the page before may be missing).
        for (int k = max; k >= 2; k--)
        {
            if (read(returnAddress - (ulong)k, window.AsSpan(max - k, k)) == k)
            {
                have = k;
                break;
            }
        }
        if (have == 0) return CallSiteVerdict.Unknown;

        for (int k = 2; k <= have; k++)
        {
            if (IsCallOfLength(window, max - k, k, returnAddress - (ulong)k, bitness)) return CallSiteVerdict.Call;
        }
        return have == max ? CallSiteVerdict.NotCall : CallSiteVerdict.Unknown;
    }

    /// <summary>Reads bytes at a virtual address; returns how many were there.</summary>
    public delegate int ReadBytes(ulong address, Span<byte> buffer);

    private static bool IsCallOfLength(byte[] window, int start, int length, ulong ip, int bitness)
    {
        // Cheap pre-filter: every call form tried ends with E8 rel32 (5 bytes) or has an FF opcode byte.
        if (length == 5 && window[start] == 0xE8) { }
        else if (window.AsSpan(start, length).IndexOf((byte)0xFF) < 0) return false;
        var decoder = Decoder.Create(bitness, new ByteArrayCodeReader(window, start, length), ip);
        decoder.Decode(out var instruction);
        if (instruction.IsInvalid || instruction.Length != length) return false;
        return instruction.FlowControl is FlowControl.Call or FlowControl.IndirectCall &&
               instruction.Mnemonic == Mnemonic.Call;
    }
}
